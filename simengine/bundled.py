"""The scenarios that ship with simengine, found in the wheel or in a source checkout."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError

_PACKAGE_DIR = Path(__file__).resolve().parent


def scenarios_dir() -> Path:
    """`simengine/_scenarios` in an installed wheel, else the checkout's `scenarios/`."""
    for candidate in (_PACKAGE_DIR / "_scenarios", _PACKAGE_DIR.parent / "scenarios"):
        if candidate.is_dir():
            return candidate
    raise InputError("the bundled scenarios are not installed with this copy of simengine")


def bundled_scenarios() -> dict[str, Path]:
    """Bundled scenario files by name (file stem), sorted."""
    return {p.stem: p for p in sorted(scenarios_dir().glob("*.toml"))}


def resolve_scenario(spec: str) -> Path:
    """A path as given when it exists or looks like a file, else a bundled scenario's path."""
    path = Path(spec)
    if path.exists() or spec.endswith(".toml") or "/" in spec:
        return path
    try:
        found = bundled_scenarios()
    except InputError:
        return path
    if spec in found:
        return found[spec]
    from .distributions import suggest

    if (scenarios_dir() / "portfolios" / f"{spec}.toml").is_file():
        raise InputError(f"{spec} is a bundled portfolio, not a scenario: run `simengine portfolio {spec}`")
    raise InputError(f"{spec}: no such scenario file or bundled scenario{suggest(spec, found)}; "
                     f"see `simengine scenarios`")
