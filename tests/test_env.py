"""Environment report: platform detection, version checks against the pins, persistent output dirs."""

from mathrl.env import check_versions, detect_platform, persistent_dir, read_pins


def test_platform_detection(monkeypatch):
    for var in ("KAGGLE_KERNEL_RUN_TYPE", "COLAB_RELEASE_TAG", "COLAB_GPU"):
        monkeypatch.delenv(var, raising=False)
    assert detect_platform() == "local"
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab")
    assert detect_platform() == "colab"
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    assert detect_platform() == "kaggle"
    assert str(persistent_dir()) == "/kaggle/working/runs"


def test_pins_are_read_from_requirements():
    pins = read_pins()
    assert pins["trl"].startswith("==") and pins["torch"].startswith(">=")


def test_version_statuses():
    rows = {r["package"]: r["status"] for r in check_versions({
        "pytest": "==0.0.1", "pyyaml": ">=1.0", "no-such-package-xyz": "==1.0", "packaging": ">=999"})}
    assert rows == {"pytest": "differs", "pyyaml": "ok", "no-such-package-xyz": "missing", "packaging": "too old"}
