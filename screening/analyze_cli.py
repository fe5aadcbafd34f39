"""``screening analyze``: the transport and structure analysis on trajectories and D(T)
tables that users bring (AIMD, classical MD, papers), with --json and --plot.

Registered on the main app by ``screening.cli``; the options that read trajectories are shared
with ``screening import md``. Bad input ends with one line on stderr and exit code 2 (the
main app's policy).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from screening.cli_errors import user_errors

if TYPE_CHECKING:
    from screening.diffusion import DiffusionResult
    from screening.import_md import ImportedRun
    from screening.trajectory_io import LoadedTrajectory

analyze_app = typer.Typer(
    help="Analyse trajectories and D(T) tables you bring: D, E_a, sigma, RDFs.",
    no_args_is_help=True,
)
console = Console()

TrajectoriesArgument = Annotated[
    list[Path],
    typer.Argument(
        help="vasprun.xml, XDATCAR, .extxyz/.xyz, ASE .traj or LAMMPS dump files; several "
        "are one run in the order given (a restarted run).",
    ),
]
TimestepOption = Annotated[
    Optional[float],  # noqa: UP045 - typer needs Optional here
    typer.Option(
        "--timestep-fs",
        help="MD time step (fs). Read from the file where it has one (vasprun POTIM, "
        "extxyz/.traj info timestep_fs or time_ps/time_fs); required otherwise.",
    ),
]
SampleEveryOption = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        "--sample-every",
        min=1,
        help="MD steps between stored frames (default: from the file's step numbers, "
        "XDATCAR configurations or LAMMPS timesteps, else 1).",
    ),
]
TemperatureOption = Annotated[
    Optional[float],  # noqa: UP045
    typer.Option(
        "--temperature",
        help="Run temperature (K) for sigma (default: from the file: kinetic energies, "
        "TEBEG, or momenta).",
    ),
]
LammpsTypesOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--lammps-types", help="Elements of LAMMPS atom types 1, 2, ... e.g. Li,P,S."),
]
ChargeOption = Annotated[int, typer.Option("--charge", help="Mobile ion charge (e).")]
HopLengthOption = Annotated[
    float, typer.Option("--hop-length", help="Hop length (Å) for N_eff (He et al. 2018).")
]
FitStartOption = Annotated[
    float, typer.Option("--fit-min-start-ps", help="Earliest start of the MSD fit window (ps).")
]
FitSlopeOption = Annotated[
    float,
    typer.Option(
        "--fit-slope-min",
        min=0.0,
        max=1.0,
        help="Lowest log-log slope of the MSD accepted in the fit window (a short run's MSD "
        "sits on its cage plateau: slope 1 - plateau/MSD).",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object (units in the keys).")
]
PlotOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--plot", help="Write a PNG figure to this file."),
]


def load_trajectory(
    paths: list[Path],
    timestep_fs: float | None,
    sample_every: int | None,
    temperature_k: float | None,
    lammps_types: str | None,
) -> LoadedTrajectory:
    """Read and join the files (the shared options of analyze and import md)."""
    from screening.trajectory_io import read_trajectory

    types = [t.strip() for t in lammps_types.split(",")] if lammps_types else None
    return read_trajectory(
        paths,
        timestep_fs=timestep_fs,
        sample_every=sample_every,
        temperature_k=temperature_k,
        lammps_types=types,
    )


def print_diffusion(result: DiffusionResult) -> None:
    """Human-readable table of a DiffusionResult: D total, per axis and plane, with errors."""
    if result.d_cm2_s is None:
        console.print(f"{result.species}: D not fitted: {result.reason}")
        return
    table = Table("direction", "D (cm²/s)", "error (cm²/s)", title=f"{result.species} tracer D")
    table.add_row("total", f"{result.d_cm2_s:.4g}", f"{result.d_err_cm2_s:.2g}")
    for values, errors in (
        (result.d_axes_cm2_s, result.d_axes_err_cm2_s),
        (result.d_planes_cm2_s, result.d_planes_err_cm2_s),
    ):
        for name, value in values.items():
            table.add_row(name, f"{value:.4g}", f"{errors[name]:.2g}")
    console.print(table)
    start, end = result.window_ps or (float("nan"), float("nan"))
    console.print(f"fit window {start:.3g}-{end:.3g} ps, N_eff {result.n_eff:.4g}")
    if result.haven_ratio is not None:
        console.print(f"Haven ratio {result.haven_ratio:.3g} ± {result.haven_ratio_err:.2g}")
    if result.sigma_ms_cm is not None:
        console.print(
            f"sigma({result.temperature_k:.4g} K) = {result.sigma_ms_cm:.4g} "
            f"± {result.sigma_err_ms_cm:.2g} mS/cm (Nernst-Einstein, charge {result.charge})"
        )


@analyze_app.command()
def diffusion(
    trajectories: TrajectoriesArgument,
    species: Annotated[str, typer.Option("--species", help="Mobile species, e.g. Li.")],
    timestep_fs: TimestepOption = None,
    sample_every: SampleEveryOption = None,
    temperature: TemperatureOption = None,
    charge: ChargeOption = 1,
    hop_length: HopLengthOption = 2.5,
    fit_min_start_ps: FitStartOption = 2.0,
    fit_slope_min: FitSlopeOption = 0.8,
    lammps_types: LammpsTypesOption = None,
    as_json: JsonOption = False,
    plot: PlotOption = None,
) -> None:
    """D total, per lattice axis and plane with errors, fit window, N_eff, Haven ratio and
    sigma at the run's temperature."""
    with user_errors():
        from screening.diffusion import FitWindowRule, analyze_diffusion
        from screening.user_analysis import diffusion_json, require_species

        loaded = load_trajectory(trajectories, timestep_fs, sample_every, temperature, lammps_types)
        require_species(loaded.trajectory, species)
        result = analyze_diffusion(
            loaded.trajectory,
            species,
            charge=charge,
            hop_length_ang=hop_length,
            rule=FitWindowRule(min_start_ps=fit_min_start_ps, slope_min=fit_slope_min),
        )
        if plot is not None:
            from screening.analysis_plots import plot_diffusion

            plot_diffusion(result, plot)
        if as_json:
            print(json.dumps(diffusion_json(result)))
            return
        trajectory = loaded.trajectory
        console.print(
            f"{trajectory.n_frames} frames, {trajectory.times_ps[-1]:.4g} ps "
            f"(time step {loaded.timestep_fs:g} fs, every {loaded.sample_every} steps)"
        )
        print_diffusion(result)


@analyze_app.command()
def arrhenius(
    table: Annotated[Path, typer.Argument(help="CSV with columns T (K), D, optional D_err.")],
    structure: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--structure", help="POSCAR/CIF giving N and V for sigma."),
    ] = None,
    species: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--species", help="Mobile species counted in --structure."),
    ] = None,
    charge: ChargeOption = 1,
    temperature: Annotated[
        float, typer.Option("--temperature", help="Temperature (K) for D(T) and sigma(T).")
    ] = 300.0,
    as_json: JsonOption = False,
    plot: PlotOption = None,
) -> None:
    """E_a ± error, D0, D(T) and, with --structure and --species, sigma(T) with its 95% CI."""
    with user_errors():
        from screening.errors import ScreeningError
        from screening.user_analysis import (
            arrhenius_json,
            conductivity_cell,
            fit_table,
            read_dt_table,
        )

        if temperature <= 0:
            raise ScreeningError(f"--temperature must be positive, got {temperature}")
        if structure is not None and species is None:
            raise ScreeningError("--structure needs --species (the ion counted for sigma)")
        data = read_dt_table(table)
        fit = fit_table(data)
        cell = None
        if structure is not None and species is not None:
            n_ions, volume = conductivity_cell(structure, species)
            cell = (n_ions, volume, charge)
        out = arrhenius_json(fit, temperature, cell)
        if plot is not None:
            from screening.analysis_plots import plot_arrhenius

            plot_arrhenius(
                fit, data.temperatures_k, data.d_cm2_s, data.d_err_cm2_s, temperature, plot
            )
        if as_json:
            print(json.dumps(out))
            return
        error = "" if fit.e_a_err_ev is None else f" ± {fit.e_a_err_ev:.3f}"
        console.print(
            f"E_a = {fit.e_a_ev:.4f}{error} eV, D0 = {fit.d0_cm2_s:.4g} cm²/s "
            f"({len(data.temperatures_k)} points)"
        )
        console.print(f"D({temperature:g} K) = {out['d_at_t_cm2_s']:.4g} cm²/s")
        if "sigma_at_t_ms_cm" in out:
            interval = out.get("sigma_at_t_ci_ms_cm")
            ci = "" if interval is None else f" (95% CI {interval[0]:.3g}-{interval[1]:.3g})"
            console.print(f"sigma({temperature:g} K) = {out['sigma_at_t_ms_cm']:.4g} mS/cm{ci}")


@analyze_app.command()
def structure(
    trajectories: TrajectoriesArgument,
    species: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--species",
            help="Species for van Hove, per-atom MSD and density, e.g. Li,Na (default: all).",
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory for .npz and .cube files.")
    ] = Path("structure-analysis"),
    lag_ps: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--lag-ps", help="van Hove lag (ps; default half the run)."),
    ] = None,
    timestep_fs: TimestepOption = None,
    sample_every: SampleEveryOption = None,
    lammps_types: LammpsTypesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Partial RDFs, coordination at the first RDF minimum and its distribution, van Hove
    self part, per-atom MSD, and the probability density as a cube file (VESTA, OVITO)."""
    with user_errors():
        from screening.user_analysis import analyze_structure, require_species

        loaded = load_trajectory(trajectories, timestep_fs, sample_every, None, lammps_types)
        trajectory = loaded.trajectory
        chosen = (
            [s.strip() for s in species.split(",")] if species else sorted(set(trajectory.symbols))
        )
        for symbol in chosen:
            require_species(trajectory, symbol)
        out = analyze_structure(trajectory, chosen, output, lag_ps=lag_ps)
        if as_json:
            print(json.dumps(out))
            return
        table = Table("center", "neighbor", "cutoff (Å)", "CN", title="first coordination shell")
        for row in out["coordination"]:  # type: ignore[union-attr]
            if "cutoff_ang" in row:
                cn = f"{row['coordination_number']:.2f}"
                table.add_row(row["center"], row["neighbor"], f"{row['cutoff_ang']:.2f}", cn)
        console.print(table)
        for path in out["files"]:  # type: ignore[union-attr]
            console.print(f"wrote {path}")


def print_import(imported: ImportedRun, label: str) -> None:
    """What ``screening import md`` stored, and the run's diffusion numbers."""
    console.print(
        f"md_run {imported.md_run_id} ({label}): structure {imported.structure_id} "
        f"({imported.chosen_by}), {imported.temperature_k:.4g} K, charge {imported.charge}",
        soft_wrap=True,
    )
    print_diffusion(imported.diffusion)
    console.print(f"{imported.arrhenius_rows} Arrhenius rows refitted for source {label}")
