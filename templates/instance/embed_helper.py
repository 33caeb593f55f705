"""Writes easytdv_helper.py into install.sh, gzip-compressed and base64-encoded
(the scripts travel as an SSM command parameter: keep them small).

Run after changing the helper: python3 templates/instance/embed_helper.py
(tests/templates fails while install.sh holds another copy).
"""

import base64
import gzip
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLOCK = re.compile(r"(<<'EASYTDV_HELPER'[^\n]*\n)(.*?)(\nEASYTDV_HELPER\n)", re.S)


def blob(source: bytes) -> str:
    packed = base64.b64encode(gzip.compress(source, compresslevel=9, mtime=0)).decode()
    return "\n".join(packed[i : i + 76] for i in range(0, len(packed), 76))


def embedded(install_text: str) -> bytes:
    """The helper install.sh carries."""
    return gzip.decompress(base64.b64decode(BLOCK.search(install_text).group(2)))


def main() -> int:
    install = HERE / "install.sh"
    text = install.read_text()
    new = BLOCK.sub(lambda m: m.group(1) + blob((HERE / "easytdv_helper.py").read_bytes()) + m.group(3), text, count=1)
    if new != text:
        install.write_text(new)
        print("install.sh: helper updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
