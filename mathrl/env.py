"""Where the code is running: Colab, Kaggle or local; GPUs and the precision they allow; versions against the pins.

    mathrl env                  # platform, GPUs, precision, installed versions against the pins
    mathrl env --json --offline # the same report as JSON, without the network check

Used by the setup notebook and by `mathrl env`; nothing here loads a model.
"""

from __future__ import annotations

import json
import os
import platform
import socket
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"


@dataclass
class GPU:
    name: str
    memory_gib: float
    capability: str
    bf16: bool


@dataclass
class EnvReport:
    platform: str
    python: str
    os: str
    cpu_cores: int
    online: bool
    gpus: list[GPU] = field(default_factory=list)
    precision: str = ""
    precision_reason: str = ""
    versions: list[dict] = field(default_factory=list)

    def mismatches(self) -> list[dict]:
        return [v for v in self.versions if v["status"] != "ok"]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def __str__(self) -> str:
        lines = [
            f"platform   {self.platform} (Python {self.python}, {self.os}, {self.cpu_cores} CPU cores)",
            f"network    {'online: the Hugging Face Hub answers' if self.online else 'offline: Hub unreachable, local data and the offline model are used'}",
        ]
        if self.gpus:
            for i, gpu in enumerate(self.gpus):
                lines.append(
                    f"gpu {i}      {gpu.name}, {gpu.memory_gib:.1f} GiB, compute capability {gpu.capability}, "
                    f"bf16 {'yes' if gpu.bf16 else 'no (emulated at best)'}"
                )
        else:
            lines.append("gpu        none: CPU only (the cpu-smoke and cpu-learn profiles fit)")
        lines.append(f"precision  {self.precision}: {self.precision_reason}")
        for v in self.versions:
            lines.append(f"  {v['package']:<16} {v['installed'] or 'missing':<14} pinned {v['pinned']:<12} {v['status']}")
        return "\n".join(lines)


def detect_platform() -> str:
    if os.environ.get("KAGGLE_KERNEL_RUN_TYPE") or Path("/kaggle/working").is_dir():
        return "kaggle"
    if os.environ.get("COLAB_RELEASE_TAG") or os.environ.get("COLAB_GPU") is not None:
        return "colab"
    return "local"


def persistent_dir(default: str = "runs") -> Path:
    """Storage that outlives the session: /kaggle/working on Kaggle, Drive on Colab when mounted, else `default`."""
    where = detect_platform()
    if where == "kaggle":
        return Path("/kaggle/working/runs")
    if where == "colab" and Path("/content/drive/MyDrive").is_dir():
        return Path("/content/drive/MyDrive/mathrl/runs")
    return Path(default)


def hub_reachable(timeout: float = 2.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def read_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """package -> pinned spec from requirements.txt (an `==` pin or a range such as `>=2.6`)."""
    pins = {}
    if not path.is_file():
        return pins
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        for op in ("==", ">="):
            if op in line:
                name, version = line.split(op, 1)
                pins[name.strip().lower()] = f"{op}{version.strip()}"
                break
    return pins


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def check_versions(pins: dict[str, str]) -> list[dict]:
    rows = []
    for package, spec in pins.items():
        try:
            installed = metadata.version(package)
        except metadata.PackageNotFoundError:
            installed = None
        if installed is None:
            status = "missing"
        elif spec.startswith("=="):
            status = "ok" if _version_tuple(installed) == _version_tuple(spec[2:]) else "differs"
        else:
            status = "ok" if _version_tuple(installed) >= _version_tuple(spec[2:]) else "too old"
        rows.append({"package": package, "installed": installed, "pinned": spec, "status": status})
    return rows


def gpus() -> list[GPU]:
    import torch

    from mathrl.hardware import native_bf16

    found = []
    for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        props = torch.cuda.get_device_properties(i)
        found.append(GPU(props.name, props.total_memory / 2**30, f"{props.major}.{props.minor}",
                         native_bf16(props.major + props.minor / 10)))
    return found


def environment_report(check_network: bool = True) -> EnvReport:
    from mathrl.models import choose_precision

    precision = choose_precision("auto")
    return EnvReport(
        platform=detect_platform(),
        python=platform.python_version(),
        os=f"{platform.system()} {platform.machine()}",
        cpu_cores=os.cpu_count() or 1,
        online=hub_reachable() if check_network else False,
        gpus=gpus(),
        precision=precision.dtype,
        precision_reason=precision.reason,
        versions=check_versions(read_pins()),
    )


def add_env_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--offline", action="store_true", help="skip the network check")


def run_env(args, cfg) -> int:
    report = environment_report(check_network=not args.offline)
    print(report.to_json() if args.json else report)
    return 0
