#!/usr/bin/env python3
"""Validate an OCSF Compliance Finding (class_uid 2003) JSON array with py-ocsf-models.
Usage: ocsf-validate.py FILE   -> exit 0 valid, 1 invalid (errors on stderr)."""
import json, sys
from datetime import datetime
from typing import Literal, Optional
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from py_ocsf_models.objects.cloud import Cloud

class StrictComplianceFinding(ComplianceFinding):
    # py-ocsf-models models use pydantic's default extra="ignore" and plain `int`
    # for class/category uids, so tighten them here.
    model_config = ConfigDict(extra="forbid")
    class_uid: Literal[2003]
    category_uid: Literal[2]
    cloud: Optional[Cloud] = None  # OCSF "cloud" profile attribute (absent from the lib's ComplianceFinding)

    @model_validator(mode="after")
    def _consistency(self):
        if int(self.type_uid) != 2003 * 100 + int(self.activity_id):
            raise ValueError(f"type_uid {int(self.type_uid)} != class_uid*100+activity_id")
        if self.time < 10**11:
            raise ValueError(f"time {self.time} looks like epoch seconds; OCSF timestamps are epoch milliseconds")
        if self.time_dt is not None:
            if self.time_dt.tzinfo is None:
                raise ValueError("time_dt must carry a timezone (RFC 3339, e.g. ...Z)")
            if abs(int(self.time_dt.timestamp() * 1000) - self.time) >= 1000:
                raise ValueError("time_dt does not match time")
        if self.cloud is not None and "cloud" not in (self.metadata.profiles or []):
            raise ValueError("`cloud` present but metadata.profiles lacks 'cloud'")
        return self

FREEFORM = {"unmapped", "data"}  # declared as object/dict in OCSF: anything goes

def unknown_keys(raw, model, path):
    """Nested models in the lib ignore unknown keys; report them instead."""
    errs = []
    if isinstance(model, BaseModel) and isinstance(raw, dict):
        fields = type(model).model_fields
        for k, v in raw.items():
            if k not in fields:
                errs.append(f"{path}.{k}: unknown field")
            elif k not in FREEFORM:
                errs += unknown_keys(v, getattr(model, k), f"{path}.{k}")
    elif isinstance(model, list) and isinstance(raw, list):
        for i, (r, m) in enumerate(zip(raw, model)):
            errs += unknown_keys(r, m, f"{path}[{i}]")
    return errs

def main(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        return [f"{path}: cannot read JSON: {e}"]
    if not isinstance(data, list) or not data:
        return [f"{path}: top level must be a non-empty JSON array"]
    errs, uids = [], {}
    for i, rec in enumerate(data):
        where = f"[{i}]"
        if not isinstance(rec, dict):
            errs.append(f"{where}: not an object"); continue
        try:  # strict JSON mode: no "2003" strings, no floats for ints
            m = StrictComplianceFinding.model_validate_json(json.dumps(rec), strict=True)
        except ValidationError as e:
            errs += [f"{where}.{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()]
            continue
        errs += unknown_keys(rec, m, where)
        uid = m.finding_info.uid
        if uid in uids:
            errs.append(f"{where}.finding_info.uid: duplicate of [{uids[uid]}] ({uid})")
        uids.setdefault(uid, i)
    return errs

if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr); sys.exit(2)
    errors = main(sys.argv[1])
    for e in errors:
        print(e, file=sys.stderr)
    print("INVALID" if errors else "OK", file=sys.stderr)
    sys.exit(1 if errors else 0)
