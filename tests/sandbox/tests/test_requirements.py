"""The practice cloud installs exactly what was reviewed: runtime-requirements.txt pins every
package with its hashes (pip --require-hashes), generated from runtime-requirements.in."""

import re

from conftest import SANDBOX


def entries(text: str) -> list[tuple[str, list[str]]]:
    """(requirement line, its hashes) for each requirement of a pip requirements file."""
    out, current = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            assert current is not None, raw
            current[1].append(line.removesuffix("\\").strip())
            continue
        current = (line.removesuffix("\\").strip(), [])
        out.append(current)
    return out


def test_every_package_is_pinned_with_its_hashes():
    lock = entries((SANDBOX / "runtime-requirements.txt").read_text())
    assert len(lock) > 50
    for req, hashes in lock:
        assert re.match(r"^[A-Za-z0-9_.\[\],-]+==[^ ;]+( ;.*)?$", req), f"not pinned exactly: {req}"
        assert hashes and all(re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", h) for h in hashes), f"no hash: {req}"


def test_the_direct_pins_are_the_ones_locked():
    locked = {
        r.split(" ;")[0].lower().replace("_", "-")
        for r, _ in entries((SANDBOX / "runtime-requirements.txt").read_text())
    }
    for req, _ in entries((SANDBOX / "runtime-requirements.in").read_text()):
        name = re.sub(r"\[.*\]", "", req).lower()
        assert name in locked, f"{req} of runtime-requirements.in is not in runtime-requirements.txt: regenerate it"
