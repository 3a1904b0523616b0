#!/usr/bin/env python3
"""Validates a bundle's config.json against the OCI runtime-spec JSON schema (v1.0.2,
vendored from opencontainers/runtime-spec under schema/, Apache-2.0): the version
Debian's runc implements. Prints each violation with its JSON path; exit 1 if any."""
import json
import pathlib
import sys
import warnings

import jsonschema

warnings.simplefilter("ignore", DeprecationWarning)
here = pathlib.Path(__file__).resolve().parent / "schema"
schema = json.loads((here / "config-schema.json").read_text())
resolver = jsonschema.RefResolver(base_uri=here.as_uri() + "/", referrer=schema)
validator = jsonschema.Draft4Validator(schema, resolver=resolver)
config = json.loads(pathlib.Path(sys.argv[1]).read_text())
errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
for e in errors:
    path = "/".join(str(p) for p in e.absolute_path) or "(top)"
    print(f"{path}: {e.message}")
sys.exit(1 if errors else 0)
