"""The screening command line: validate, enumerate, run, inspect and export campaigns.

Every command that touches the database takes --database URL (else
$SCREENING_DATABASE_URL, else the campaign's "database" key, else sqlite:///screening.db).
Bad input ends with one line on stderr naming the problem and exit code 2; nothing is
written before a campaign is valid.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from screening.analyze_cli import (
    FitSlopeOption,
    FitStartOption,
    HopLengthOption,
    LammpsTypesOption,
    SampleEveryOption,
    TemperatureOption,
    TimestepOption,
    TrajectoriesArgument,
    analyze_app,
    load_trajectory,
    print_import,
)
from screening.campaign import (
    CampaignPlan,
    check_name,
    load_campaign,
    load_plan,
    parse_campaign,
    plan_campaign,
)
from screening.cli_errors import errors, user_errors
from screening.errors import CampaignError, ScreeningError
from screening.potential_cli import data_app, potential_app
from screening.report import print_results
from screening.settings import resolve_database_url

if TYPE_CHECKING:
    from db.queries import StageThroughput
    from screening.driver import RunOptions
    from screening.enumeration import CompositionCount

# The database, driver, farm and export modules (SQLAlchemy, Alembic, Dask, pandas, the
# MLIP stack: seconds of imports) are imported inside the commands that use them, so
# that `validate`, `--help` and the refusal of a bad campaign answer at once.

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_CAMPAIGN = REPO_ROOT / "examples" / "liybc-demo.toml"

app = typer.Typer(
    help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()

DatabaseOption = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional here
    typer.Option(
        "--database",
        "-d",
        help="SQLAlchemy URL, e.g. sqlite:///screening.db or "
        "postgresql+psycopg://user@host/db (default: $SCREENING_DATABASE_URL, then the "
        "campaign's 'database' key, then sqlite:///screening.db).",
    ),
]
CampaignArgument = Annotated[Path, typer.Argument(help="Campaign TOML file.")]
WorkersOption = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(min=1, help="Worker processes of the local cluster (default: cores)."),
]
ArtifactsOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--artifacts",
        help="Artifact store for trajectories and MSD curves (default: $SCREENING_ARTIFACTS, "
        "else artifacts/ beside a SQLite file, else ./artifacts). Workers write to it: use a "
        "shared filesystem with a remote scheduler.",
    ),
]


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details.")] = False,
) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=errors, show_time=False, show_path=False)],
    )


@app.command()
def init(
    name: Annotated[str, typer.Argument(help="Campaign name; writes NAME.toml here.")],
) -> None:
    """Write a commented template campaign file NAME.toml to start from."""
    with user_errors():
        try:
            check_name(name)
        except ValueError as err:
            raise ScreeningError(str(err)) from None
        target = Path(f"{name}.toml")
        if target.exists():
            raise ScreeningError(f"{target} already exists: choose another name or remove it")
        template = resources.files("screening").joinpath("templates/campaign.toml").read_text()
        text = template.replace("@NAME@", name)
        parse_campaign(tomllib.loads(text), source=str(target))  # refuse before writing
        target.write_text(text)
        console.print(f"wrote {target}: edit it, then `screening validate {target}`")


@app.command()
def validate(campaign: CampaignArgument, database: DatabaseOption = None) -> None:
    """Check a campaign file against its parent crystal without writing anything (a
    potential given by name is looked up, read-only, in the database)."""
    with user_errors():
        plan = _load_plan(campaign, database)
        _print_plan(plan)


@app.command("enumerate")
def enumerate_command(campaign: CampaignArgument, database: DatabaseOption = None) -> None:
    """Write the campaign's compositions and structures and its relax jobs, then list the
    compositions with their structure counts and SQS objectives.

    The SQS runs execute one after another in this process (`screening run` spreads them
    over the farm); a rerun computes only what is missing.
    """
    with user_errors():
        plan = _load_plan(campaign, database)
        from db.engine import make_engine, make_session_factory
        from screening.driver import prepare_campaign
        from screening.enumeration import composition_counts
        from screening.progress_bar import RichProgress

        url = _ready_database(database, plan)
        sessions = make_session_factory(make_engine(url))
        with RichProgress(console) as progress, sessions() as session:
            counts = composition_counts(session, prepare_campaign(session, plan, progress))
        console.print(_enumeration_table(plan.spec.name, counts))


@app.command()
def run(
    campaign: CampaignArgument,
    database: DatabaseOption = None,
    scheduler: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Address of a running Dask scheduler, e.g. tcp://host:8786."),
    ] = None,
    workers: WorkersOption = None,
    artifacts: ArtifactsOption = None,
    only: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="Run only these stages, comma-separated (relax,md,neb); "
            "the others stay pending for a later run."
        ),
    ] = None,
    max_structures: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            min=1,
            help="Compute only the first N candidate structures "
            "(hull references always): a partial campaign, resumable later.",
        ),
    ] = None,
) -> None:
    """Enumerate if needed, then run every stage on the farm: relax, E_hull, and with [md]
    the MD at each temperature and the Arrhenius fits (D, E_a, sigma).

    Work is ordered cheap and informative first: relaxations, then MD at the highest
    temperature. Resumable: rerunning the same command skips finished jobs, reclaims jobs
    of a killed run and retries failed ones that have attempts left.
    """
    with user_errors():
        plan = _load_plan(campaign, database)
        from screening.driver import RunOptions

        url = _ready_database(database, plan)
        options = RunOptions(
            scheduler=scheduler,
            workers=workers,
            artifact_root=artifacts,
            only=_stage_names(only),
            max_structures=max_structures,
        )
        _run(plan, url, options)


@app.command()
def explore(
    database: DatabaseOption = None,
    port: Annotated[int, typer.Option(help="Port to serve the explorer on.")] = 8501,
) -> None:
    """Serve the read-only Streamlit explorer of a database on localhost (Ctrl-C stops it).

    Maps of the composition space, structures, Arrhenius plots, progress, table and SQL.

    It never writes: a PostgreSQL role with only SELECT is enough.
    """
    with user_errors():
        url = resolve_database_url(database)
        from frontend.launch import run_explorer

        raise typer.Exit(run_explorer(url, port))


@app.command()
def demo(
    database: DatabaseOption = None,
    workers: WorkersOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Run the built-in demo: Li3InCl6 with In/Y and Br/Cl mixing, CHGNet, SQLite, local Dask."""
    with user_errors():
        plan = load_plan(DEMO_CAMPAIGN)
        from screening.driver import RunOptions

        url = _ready_database(database, plan)
        console.print(f"demo campaign {DEMO_CAMPAIGN.relative_to(REPO_ROOT)} into {url}")
        _run(plan, url, RunOptions(workers=workers, artifact_root=artifacts))


@app.command()
def status(
    campaign: Annotated[str, typer.Argument(help="Campaign name or TOML file.")],
    database: DatabaseOption = None,
) -> None:
    """Jobs per stage and status, throughput per stage (jobs/hour), and the failures
    grouped by reason."""
    with user_errors():
        name, url = _name_and_url(campaign, database)
        from db import queries
        from db.engine import make_engine, make_session_factory

        sessions = make_session_factory(make_engine(url))
        with sessions() as session:
            campaign_id = queries.campaign_id(session, name)
            table = Table("stage", "status", "jobs", title=f"campaign {name}")
            for row in queries.job_status_counts(session, campaign_id):
                table.add_row(row.kind, row.status, str(row.count))
            console.print(table)
            console.print(_throughput_table(queries.stage_throughput(session, campaign_id)))
            for group in queries.failure_groups(session, campaign_id):
                ids = ", ".join(map(str, group.job_ids[:5])) + (" ..." if group.count > 5 else "")
                console.print(
                    f"{group.count} failed {group.kind} job(s) [{ids}]: {group.reason}",
                    highlight=False,
                )


def _throughput_table(rows: list[StageThroughput]) -> Table:
    table = Table(
        "stage", "finished", "jobs/hour", "in the last hour", "mean s/job", title="throughput"
    )
    for row in rows:
        rate = f"{row.jobs_per_hour:.1f}" if row.jobs_per_hour is not None else "-"
        mean = f"{row.mean_job_s:.1f}" if row.mean_job_s is not None else "-"
        table.add_row(row.kind, str(row.finished), rate, str(row.last_hour), mean)
    return table


@app.command()
def export(
    campaign: Annotated[str, typer.Argument(help="Campaign name or TOML file.")],
    database: DatabaseOption = None,
    format: Annotated[str, typer.Option("--format", "-f", help="csv or parquet.")] = "csv",
    output: Annotated[Path, typer.Option("--output", "-o", help="Output directory.")] = Path("."),
) -> None:
    """Write composition_summary and per-structure results as CSV or Parquet for pandas."""
    with user_errors():
        name, url = _name_and_url(campaign, database)
        from db.engine import make_engine
        from screening.export import export_campaign

        for path in export_campaign(make_engine(url), name, format, output):
            console.print(f"wrote {path}")


@app.command("export-structures")
def export_structures_command(
    campaign: Annotated[str, typer.Argument(help="Campaign name or TOML file.")],
    database: DatabaseOption = None,
    format: Annotated[str, typer.Option("--format", "-f", help="cif, poscar or extxyz.")] = "cif",
    output: Annotated[Path, typer.Option("--output", "-o", help="Output directory.")] = Path("."),
    relaxed: Annotated[
        bool,
        typer.Option(
            "--relaxed", help="Write each lowest-energy relaxed structure where one exists."
        ),
    ] = False,
) -> None:
    """Write every candidate structure of a campaign to its own file, named by formula and
    structure id, with NAME_manifest.csv (composition, origin: method, seed, SQS objective).
    Extended XYZ files carry the origin in their info line."""
    with user_errors():
        name, url = _name_and_url(campaign, database)
        from db.engine import make_engine
        from screening.structure_export import export_structures

        written = export_structures(make_engine(url), name, format, output, relaxed)
        console.print(
            f"wrote {written.n_structures} structures ({written.n_relaxed} relaxed) to "
            f"{output}, listed in {written.manifest}"
        )


@db_app.command("upgrade")
def db_upgrade(database: DatabaseOption = None) -> None:
    """Create or upgrade the schema to the latest migration."""
    with user_errors():
        from db.migrate import upgrade

        url = resolve_database_url(database)
        upgrade(url)
        console.print(f"{url} is at the latest schema")


app.add_typer(analyze_app, name="analyze")
import_app = typer.Typer(help="Bring results from outside into a campaign.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(data_app, name="data")
app.add_typer(potential_app, name="potential")


@import_app.command("md")
def import_md(
    campaign: Annotated[str, typer.Argument(help="Campaign name or TOML file.")],
    trajectories: TrajectoriesArgument,
    label: Annotated[str, typer.Option("--label", help="Source label, e.g. aimd-pbe.")],
    structure_id: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--structure-id", help="Candidate structure id (default: matched)."),
    ] = None,
    composition: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--composition", help="Formula to match (default: the trajectory's)."),
    ] = None,
    species: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--species", help="Mobile species (default: the campaign's)."),
    ] = None,
    charge: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--charge", help="Ion charge, e (default: campaign oxidation state or 1)."),
    ] = None,
    timestep_fs: TimestepOption = None,
    sample_every: SampleEveryOption = None,
    temperature: TemperatureOption = None,
    lammps_types: LammpsTypesOption = None,
    hop_length: HopLengthOption = 2.5,
    fit_min_start_ps: FitStartOption = 2.0,
    fit_slope_min: FitSlopeOption = 0.8,
    database: DatabaseOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Store an external trajectory's D, sigma, RDFs as an md_run of a campaign structure,
    marked with its source label, and refit that source's Arrhenius rows (the explorer plots
    them beside the MLIP ones). The structure: --structure-id, else the candidate of the
    trajectory's formula (several orderings: the one matching the first frame, else the
    lowest-energy one)."""
    with user_errors():
        name, url = _name_and_url(campaign, database)
        from db.artifacts import default_artifact_root
        from db.engine import make_engine, make_session_factory
        from db.migrate import ensure_schema
        from screening.diffusion import FitWindowRule
        from screening.import_md import import_md as store_imported_run

        loaded = load_trajectory(trajectories, timestep_fs, sample_every, temperature, lammps_types)
        ensure_schema(url)
        with make_session_factory(make_engine(url))() as session:
            imported = store_imported_run(
                session,
                name,
                loaded,
                label=label,
                artifact_root=artifacts or default_artifact_root(url),
                species=species,
                charge=charge,
                structure_id=structure_id,
                composition=composition,
                hop_length_ang=hop_length,
                rule=FitWindowRule(min_start_ps=fit_min_start_ps, slope_min=fit_slope_min),
            )
        print_import(imported, label)


def _load_plan(campaign: Path, flag: str | None) -> CampaignPlan:
    """Load and plan a campaign; a potential given by name is looked up in its database."""
    spec = load_campaign(campaign)
    url = resolve_database_url(flag, spec.database)

    def registered(name: str) -> str | None:
        from screening.training_store import registered_spec

        return registered_spec(url, name)

    return plan_campaign(spec, campaign.resolve().parent, registered)


def _ready_database(flag: str | None, plan: CampaignPlan) -> str:
    from db.migrate import ensure_schema

    url = resolve_database_url(flag, plan.spec.database)
    ensure_schema(url)
    return url


def _name_and_url(campaign: str, flag: str | None) -> tuple[str, str]:
    if campaign.endswith(".toml"):
        spec = load_campaign(campaign)
        return spec.name, resolve_database_url(flag, spec.database)
    return campaign, resolve_database_url(flag)


def _run(plan: CampaignPlan, url: str, options: RunOptions) -> None:
    from db.engine import make_engine
    from screening.driver import run_campaign
    from screening.progress_bar import RichProgress

    engine = make_engine(url)
    with RichProgress(console) as progress:
        summary = run_campaign(engine, plan, options, progress)
    for failure in summary.failures:
        errors.print(f"failed: {failure}", highlight=False)
    if summary.hull_error:
        errors.print(f"hull not computed: {summary.hull_error}", highlight=False)
    print_results(console, url, plan.spec.name)
    console.print(
        f"{summary.done} jobs done in this run, {summary.already_done} earlier; "
        f"{summary.failed_total} failed in all (`screening status` lists why)."
    )
    _print_how_to_query(url, plan.spec.name)


def _stage_names(text: str | None) -> frozenset[str] | None:
    """``--only``'s stages, checked against the registered ones."""
    if text is None:
        return None
    from screening.stages import STAGES

    names = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(names - set(STAGES))
    if unknown or not names:
        raise CampaignError(
            f"--only: unknown stage {unknown[:1] or text!r}; stages: {sorted(STAGES)}"
        )
    return names


def _print_plan(plan: CampaignPlan) -> None:
    console.print(
        f"campaign {plan.spec.name}: parent {plan.parent.composition.reduced_formula} "
        f"({len(plan.parent)} atoms), supercell {list(plan.spec.supercell)} "
        f"({len(plan.supercell)} atoms), potential {plan.potential}"
    )
    table = Table("composition", "formula", title=f"{len(plan.compositions)} compositions")
    from enumerate import grid

    for point in plan.compositions:
        table.add_row(point.label(), grid.formula_of(point, plan.parent, plan.sublattices))
    console.print(table)


def _enumeration_table(name: str, counts: list[CompositionCount]) -> Table:
    """Compositions with their structure counts and SQS objectives (lower is better)."""
    table = Table(
        "formula",
        "composition",
        "structures",
        "SQS runs",
        "best objective",
        "spread",
        title=f"campaign {name}: {sum(c.n_structures for c in counts)} candidate structures",
        caption="objective: icet SQS score of the kept structures (0 for a pure composition);"
        " spread: worst seeded run minus the best",
    )
    for count in counts:
        best, worst = count.best_objective, count.worst_run_objective
        table.add_row(
            count.formula,
            count.label,
            str(count.n_structures),
            str(count.n_sqs_runs) if count.n_sqs_runs else "-",
            "-" if best is None else f"{best:.3f}",
            "-" if best is None or worst is None else f"{worst - best:.3f}",
        )
    return table


def _print_how_to_query(url: str, name: str) -> None:
    command, python = _venv_command("screening"), _venv_command("python")
    console.print(
        "\nQuery the results:\n"
        f"  {command} status {name} --database {url}\n"
        f"  {command} export {name} --database {url} --format csv\n"
        f'  {python} -c "import pandas as pd; print(pd.read_sql('
        f"'SELECT * FROM composition_summary', '{url}'))\"\n"
        "  or any SQL client on the view composition_summary (see README.md).\n"
        "Explore it in the browser (read-only):\n"
        f"  {command} explore --database {url}    then open http://localhost:8501"
    )


def _venv_command(name: str) -> str:
    """``name`` when this venv's copy is on PATH, else its path (as after ``make demo``)."""
    script = Path(sys.executable).parent / name
    found = shutil.which(name)
    if found and Path(found).resolve() == script.resolve():
        return name
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)
