"""tests/policy: the IAM policies checked against the sandbox's recorded calls
and CloudFormation's resource provider schemas (see policy_check.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
