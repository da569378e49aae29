#!/usr/bin/env python3
"""Writes the JSON schemas kubeconform validates Kubernetes manifests with.

kubeconform downloads its schemas from GitHub at run time; here they are made
from documents that come through the Go module proxy instead:

- the Kubernetes API's OpenAPI document, api/openapi-spec/swagger.json in the
  module k8s.io/kubernetes (one schema per kind, group and version);
- the ServiceMonitor CustomResourceDefinition in the module
  github.com/prometheus-operator/prometheus-operator
  (example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml).

`go mod download -json MODULE@VERSION` fetches each into Go's module cache
once. The schemas are strict, as kubeconform's own `-strict` ones are: an
object with declared properties accepts no other (a misspelt field fails).
Each file stands alone: it carries the definitions it refers to.

Output: OUT/<kind>-<group's first label>-<version>.json (deployment-apps-v1.json,
service-v1.json, servicemonitor-monitoring-v1.json), which is kubeconform's
`{{ .ResourceKind }}{{ .KindSuffix }}.json`; then OUT/.complete, written last.

    python3 tests/kubernetes/make_schemas.py --out build/k8s-tools/schemas \\
        --kubernetes v1.37.2 --prometheus-operator v0.88.0
"""

import argparse
import copy
import json
import os
import pathlib
import subprocess
import sys

import yaml

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
SERVICE_MONITOR_CRD = "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"


def module_dir(module: str, version: str) -> pathlib.Path:
    """The folder of MODULE@VERSION in Go's module cache, downloaded if need be."""
    reply = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"],
                           capture_output=True, text=True, cwd="/")
    info = json.loads(reply.stdout) if reply.stdout.strip() else {}
    if reply.returncode != 0 or "Dir" not in info:
        sys.exit(f"go mod download {module}@{version} failed: "
                 f"{info.get('Error') or reply.stderr.strip()}")
    return pathlib.Path(info["Dir"])


def file_name(kind: str, group: str, version: str) -> str:
    """kubeconform's name for the schema of kind in group/version."""
    suffix = f"-{group.split('.')[0].lower()}" if group else ""
    return f"{kind.lower()}{suffix}-{version.lower()}.json"


def strict(schema):
    """Closes every object that declares properties, as kubectl validates."""
    if isinstance(schema, dict):
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        for value in schema.values():
            strict(value)
    elif isinstance(schema, list):
        for value in schema:
            strict(value)
    return schema


def refs(schema, found):
    """Adds the names of the definitions `schema` refers to into `found`."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            found.add(ref[len("#/definitions/"):])
        for value in schema.values():
            refs(value, found)
    elif isinstance(schema, list):
        for value in schema:
            refs(value, found)


def kubernetes_schemas(swagger_path: pathlib.Path, out: pathlib.Path) -> int:
    definitions = json.loads(swagger_path.read_text())["definitions"]
    # What the API server accepts, which the document writes as strings:
    # a quantity may be a number (cpu: 2), an int-or-string either.
    definitions[QUANTITY] = {"oneOf": [{"type": "string"}, {"type": "number"}]}
    definitions[INT_OR_STRING] = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    written = 0
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            needed, todo = set(), [name]
            while todo:
                found = set()
                refs(definitions[todo.pop()], found)
                for ref in found - needed:
                    needed.add(ref)
                    todo.append(ref)
            schema = strict(copy.deepcopy(definition))
            schema["definitions"] = {ref: strict(copy.deepcopy(definitions[ref]))
                                     for ref in sorted(needed)}
            target = out / file_name(gvk["kind"], gvk["group"], gvk["version"])
            target.write_text(json.dumps(schema))
            written += 1
    return written


def crd_schemas(crd_path: pathlib.Path, out: pathlib.Path) -> int:
    written = 0
    for crd in yaml.safe_load_all(crd_path.read_text()):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        spec = crd["spec"]
        for version in spec["versions"]:
            schema = strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            target = out / file_name(spec["names"]["kind"], spec["group"], version["name"])
            target.write_text(json.dumps(schema))
            written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--kubernetes", required=True, help="version of k8s.io/kubernetes")
    parser.add_argument("--prometheus-operator", required=True,
                        help="version of github.com/prometheus-operator/prometheus-operator")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    complete = args.out / ".complete"
    if complete.exists():
        complete.unlink()
    swagger = module_dir("k8s.io/kubernetes", args.kubernetes) / "api/openapi-spec/swagger.json"
    crd = (module_dir("github.com/prometheus-operator/prometheus-operator",
                      args.prometheus_operator) / SERVICE_MONITOR_CRD)
    count = kubernetes_schemas(swagger, args.out) + crd_schemas(crd, args.out)
    complete.write_text(f"k8s.io/kubernetes {args.kubernetes}\n"
                        f"prometheus-operator {args.prometheus_operator}\n")
    print(f"{count} schemas in {args.out} (Kubernetes {args.kubernetes}, "
          f"prometheus-operator {args.prometheus_operator})")


if __name__ == "__main__":
    os.umask(0o022)
    main()
