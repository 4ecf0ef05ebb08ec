"""The defaults kube-apiserver fills into what it stores, so the drill's objects read the same.

Defaulting (pkg/apis/core/v1/defaults.go) runs on every write of a pod template; admission
(ServiceAccount, Priority, DefaultTolerationSeconds) adds its fields to each pod it creates.
"""

from __future__ import annotations

import copy

from bot.drills.kubernetes.objects import Obj, template_hash

_PROBE = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
_POD_SPEC = {
    "restartPolicy": "Always",
    "terminationGracePeriodSeconds": 30,
    "dnsPolicy": "ClusterFirst",
    "securityContext": {},
    "schedulerName": "default-scheduler",
}
_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
_TOLERATED = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def defaulted_template(template: Obj) -> Obj:
    """A copy of a pod template with the fields the API server defaults filled in."""
    result = copy.deepcopy(template)
    spec = result.setdefault("spec", {})
    for key, value in _POD_SPEC.items():
        spec.setdefault(key, copy.deepcopy(value))
    for container in spec.get("containers") or []:
        if not isinstance(container, dict):
            continue
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        image = str(container.get("image", ""))
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if isinstance(container.get(probe), dict):
                for key, value in _PROBE.items():
                    container[probe].setdefault(key, value)
    return result


def admitted_pod_spec(spec: Obj, pod_name: str) -> Obj:
    """A copy of a pod's spec with what admission adds on create: the service account token
    volume and its mounts, the priority, and the not-ready and unreachable tolerations."""
    result = copy.deepcopy(spec)
    result.setdefault("serviceAccountName", "default")
    result.setdefault("priority", 0)
    result.setdefault("enableServiceLinks", True)
    result.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = result.setdefault("tolerations", [])
    for key in _TOLERATED:
        if not any(t.get("key") == key for t in tolerations):
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            )
    # The volume's suffix is random on a real cluster; the pod's name makes it stable here.
    volume = f"kube-api-access-{template_hash({'pod': pod_name})[:5]}"
    result.setdefault("volumes", []).append(
        {
            "name": volume,
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {
                        "configMap": {
                            "name": "kube-root-ca.crt",
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                        }
                    },
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "path": "namespace",
                                    "fieldRef": {
                                        "apiVersion": "v1",
                                        "fieldPath": "metadata.namespace",
                                    },
                                }
                            ]
                        }
                    },
                ],
            },
        }
    )
    for container in result.get("containers") or []:
        mount = {"name": volume, "readOnly": True, "mountPath": _TOKEN_PATH}
        container.setdefault("volumeMounts", []).append(mount)
    return result
