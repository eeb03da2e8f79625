#!/usr/bin/env python3
"""Validate an OSCAL assessment-results JSON file with compliance-trestle.
Usage: validate_oscal_ar.py PATH   -> exit 0 valid, 1 invalid (reason on stderr)."""
import json
import pathlib
import sys

from trestle.core.duplicates_validator import DuplicatesValidator
from trestle.oscal.assessment_results import AssessmentResults


def extra_checks(ar) -> list[str]:
    """Rules the official JSON schema / OSCAL constraints have but trestle's models skip."""
    errs, res = [], ar.results
    uuids_bm = {str(r.uuid) for r in (ar.back_matter.resources or [])} if ar.back_matter else set()
    for r in res:
        obs = {str(o.uuid) for o in (r.observations or [])}
        for f in r.findings or []:
            if f.target.status is None:  # required in the NIST schema (1.1.x and 1.2.x)
                errs.append(f"finding {f.uuid}: target.status is required")
            for ro in f.related_observations or []:
                if str(ro.observation_uuid) not in obs:
                    errs.append(f"finding {f.uuid}: unknown observation-uuid {ro.observation_uuid}")
        for o in r.observations or []:
            for ev in o.relevant_evidence or []:
                if ev.href and ev.href.startswith("#") and ev.href[1:] not in uuids_bm:
                    errs.append(f"observation {o.uuid}: {ev.href} not in back-matter")
    if not DuplicatesValidator().model_is_valid(ar, True):
        errs.append("duplicate uuid values")
    return errs


def main() -> int:
    path = pathlib.Path(sys.argv[1])
    if not path.is_file():
        print(f"INVALID: {path}: no such file", file=sys.stderr)
        return 1
    try:
        ar = AssessmentResults.oscal_read(path)  # strict: extra='forbid', enums, patterns
    except Exception as e:  # TrestleError wrapping pydantic ValidationError
        print(f"INVALID: {e}", file=sys.stderr)
        return 1
    errs = extra_checks(ar)
    if errs:
        print("INVALID:\n  " + "\n  ".join(errs), file=sys.stderr)
        return 1
    print(f"VALID: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
