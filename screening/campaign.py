"""The campaign spec: a TOML file validated by pydantic, then checked against the parent.

:func:`load_campaign` reads and validates the file; :func:`plan_campaign` turns the spec
into everything enumeration needs (parent, supercell, sublattices, charge-neutral
composition grid) and refuses, before anything is written, every input that cannot
work. Each refusal is a :class:`CampaignError` whose message is one line naming the
field and the problem.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pymatgen.core import Element, Structure

from enumerate import grid, prototypes, space
from enumerate.errors import EnumerationError, UnrealisableCompositionError
from screening.errors import CampaignError, PotentialError
from screening.potentials import PotentialSpec, validate_spec

if TYPE_CHECKING:  # screening.relax pulls in ASE's optimisers: a second of imports
    from screening.clusters import ClusterSettings
    from screening.relax import RelaxSettings

VACANCY = "vacancy"
PotentialLookup = Callable[[str], str | None]  # registered potential name -> its spec
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_name(name: str) -> str:
    """Return ``name`` if it is a legal campaign name, else raise ValueError saying why."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ValueError(
            f"campaign name {name!r} is not allowed: use 1 to 100 letters, digits, '_', '.'"
            " or '-', starting with a letter or digit"
        )
    return name


def _check_element(symbol: str) -> str:
    if symbol != VACANCY and not Element.is_valid_symbol(symbol):
        raise ValueError(f"unknown element {symbol!r}")
    return symbol


class SublatticeSpec(_Strict):
    """Parent sites selected by ``replaces`` and the species allowed on them.

    ``replaces`` is an element (all its sites) or a site label such as ``Na1``. The
    fractions come from ``step``, ``points`` or ``follows`` (another sublattice's name).
    """

    replaces: str
    species: list[str] = Field(min_length=1)
    step: Annotated[float, Field(gt=0, le=1)] | None = None
    points: list[dict[str, float]] | None = None
    follows: str | None = None

    @field_validator("replaces")
    @classmethod
    def _replaces_is_element_or_label(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.+-]{0,31}", value):
            raise ValueError(f"{value!r} is neither an element nor a site label")
        return value

    @field_validator("species")
    @classmethod
    def _species_are_elements(cls, value: list[str]) -> list[str]:
        for symbol in value:
            _check_element(symbol)
        if len(set(value)) != len(value):
            raise ValueError("species are listed twice")
        return value

    @field_validator("step")
    @classmethod
    def _step_divides_one(cls, value: float | None) -> float | None:
        if value is not None and abs(1 / value - round(1 / value)) > 1e-9:
            raise ValueError(f"step {value} does not divide 1 (use 1/n: 0.5, 0.25, ...)")
        return value

    @field_validator("points")
    @classmethod
    def _points_are_fractions(
        cls, value: list[dict[str, float]] | None, info: ValidationInfo
    ) -> list[dict[str, float]] | None:
        species = info.data.get("species")
        for point in value or []:
            unknown = set(point) - set(species or point)
            if unknown:
                raise ValueError(f"point {point} uses species not in 'species': {sorted(unknown)}")
            if abs(sum(point.values()) - 1.0) > 1e-6:
                raise ValueError(
                    f"fractions of point {point} sum to {sum(point.values()):g}, not 1"
                )
            if any(v < 0 for v in point.values()):
                raise ValueError(f"point {point} has a negative fraction")
        return value

    @model_validator(mode="after")
    def _step_or_points(self) -> SublatticeSpec:
        if sum(x is not None for x in (self.step, self.points, self.follows)) != 1:
            raise ValueError("give exactly one of 'step', 'points' or 'follows'")
        return self


class ClusterExpansionSpec(_Strict):
    """[enumeration.ce] of method ce-mc: the fit, the annealing and the Monte Carlo sampling.

    The training set is the orderings of up to ``max_sites`` sites and the SQS of every
    composition; ``[enumeration]`` sets both, and ``seed`` seeds the CV splits and the runs.
    """

    cutoffs: list[PositiveFloat] = Field(
        [7.0, 5.0], min_length=1, description="Å: pair, triplet, ... cluster cutoffs"
    )
    fit_method: Literal[
        "ardr", "lasso", "least-squares", "ridge", "bayesian-ridge", "split-bregman"
    ] = "ardr"
    cv_splits: int = Field(5, ge=2, description="k of the k-fold cross validation")
    max_displacement: PositiveFloat = Field(1.0, description="Å from the ideal site")
    max_volumetric_strain: PositiveFloat = 0.25
    max_anisotropic_strain: PositiveFloat = 0.1
    anneal_supercell: tuple[PositiveInt, PositiveInt, PositiveInt] = (2, 2, 2)
    anneal_steps: PositiveInt = 100_000
    anneal_start_k: PositiveFloat = 2000.0
    anneal_stop_k: PositiveFloat = 10.0
    mc_temperature_k: PositiveFloat = 1000.0
    mc_samples: NonNegativeInt = Field(1, description="Monte Carlo snapshots per composition")
    mc_equilibration_steps: NonNegativeInt = 50_000
    mc_interval: PositiveInt = Field(10_000, description="Monte Carlo steps between snapshots")

    @model_validator(mode="after")
    def _cools(self) -> ClusterExpansionSpec:
        if self.anneal_stop_k >= self.anneal_start_k:
            raise ValueError(
                f"anneal_stop_k {self.anneal_stop_k:g} K must be below anneal_start_k "
                f"{self.anneal_start_k:g} K"
            )
        return self


class EnumerationSpec(_Strict):
    method: Literal["sqs", "enumerate", "ce-mc"] = "sqs"
    structures_per_composition: PositiveInt = 1
    seed: int = 1
    sqs_steps: PositiveInt = 3000
    sqs_runs: PositiveInt = Field(4, description="seeded SQS runs per ordering; best kept")
    pair_cutoff: PositiveFloat = Field(6.0, description="Å")
    max_sites: PositiveInt = Field(8, description="largest cell of method enumerate, in sites")
    max_structures: PositiveInt = Field(2000, description="cap on orderings of enumerate")
    ce: ClusterExpansionSpec = ClusterExpansionSpec()

    @field_validator("ce")
    @classmethod
    def _ce_needs_ce_mc(
        cls, value: ClusterExpansionSpec, info: ValidationInfo
    ) -> ClusterExpansionSpec:
        if info.data.get("method") != "ce-mc" and value != ClusterExpansionSpec():
            raise ValueError('[enumeration.ce] is used only with method = "ce-mc"')
        return value


class RelaxSpec(_Strict):
    fmax: PositiveFloat = Field(0.05, description="eV/Å")
    max_steps: PositiveInt = 500
    relax_cell: bool = True
    optimizer: Literal["fire", "bfgs"] = "fire"

    def settings(self, relax_cell: bool | None = None) -> RelaxSettings:
        from screening.relax import RelaxSettings

        return RelaxSettings(
            fmax=self.fmax,
            max_steps=self.max_steps,
            relax_cell=self.relax_cell if relax_cell is None else relax_cell,
            optimizer=self.optimizer,
        )


class HullSpec(_Strict):
    competing_phases: list[str] = []
    elemental_references: bool = True


DEFAULT_TIMEOUTS_S = {"relax": 7_200.0, "md": 172_800.0, "neb": 43_200.0}


class FarmSpec(_Strict):
    max_attempts: PositiveInt = Field(2, description="tries per job before it is failed")
    local_workers: PositiveInt | None = Field(
        None, description="worker processes of a local cluster; default one per core"
    )
    timeout_s: dict[str, PositiveFloat] = Field(
        default_factory=lambda: dict(DEFAULT_TIMEOUTS_S),
        description="s per stage after which a running task is failed as hung",
    )
    database_retry_s: PositiveFloat = Field(
        600.0, description="s the driver keeps retrying an unreachable database"
    )
    checkpoint_every: NonNegativeInt = Field(
        500, description="MD steps between checkpoints a retried task resumes from; 0: none"
    )
    # Where the workers come from (screening.clusters, docs/farm.md).
    backend: Literal["local", "address", "slurm", "pbs"] = "local"
    address: str | None = Field(None, description="tcp://host:port of a running scheduler")
    scheduler_timeout_s: PositiveFloat = Field(
        60.0, description="address: s to wait for a lost scheduler before exiting (resumable)"
    )
    local_gpus: NonNegativeInt | None = Field(None, description="local: GPUs; default detect")
    gpus_per_job: NonNegativeInt = Field(0, description="slurm/pbs: GPUs per batch job")
    cores_per_job: PositiveInt = 1
    memory_per_job: str = "16GB"
    walltime: str = "24:00:00"
    account: str | None = None
    queue: str | None = None
    interface: str | None = Field(None, description="network interface of the workers, ib0")
    job_extra_directives: list[str] = Field(default_factory=list)
    minimum_jobs: NonNegativeInt = 0
    maximum_jobs: PositiveInt = 1

    @model_validator(mode="after")
    def _cluster_is_runnable(self) -> FarmSpec:
        self.cluster_settings()  # its ValueError names the key
        return self

    def cluster_settings(self) -> ClusterSettings:
        """The backend part of this table (validated by :class:`ClusterSettings`)."""
        from screening.clusters import ClusterSettings

        keys = self.model_dump(
            exclude={
                "max_attempts",
                "timeout_s",
                "database_retry_s",
                "checkpoint_every",
                "local_workers",
            }
        )
        keys["job_extra_directives"] = tuple(keys["job_extra_directives"])
        return ClusterSettings(workers=self.local_workers, **keys)

    @field_validator("timeout_s")
    @classmethod
    def _known_stages(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(DEFAULT_TIMEOUTS_S))
        if unknown:
            raise ValueError(f"unknown stage {unknown[0]!r}; stages: {sorted(DEFAULT_TIMEOUTS_S)}")
        return DEFAULT_TIMEOUTS_S | value


class StabilitySpec(_Strict):
    """When an MD run stops being trustworthy (and, later, data to learn)."""

    temperature_window: tuple[PositiveFloat, PositiveFloat] = (0.5, 1.5)  # x target T
    min_distance: PositiveFloat = Field(0.6, description="Å between any two atoms")
    framework_msd_max: PositiveFloat = Field(1.0, description="Å^2: framework melting")

    @field_validator("temperature_window")
    @classmethod
    def _window_is_ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < 1.0 < value[1]:
            raise ValueError(f"{list(value)} must be [low, high] with low < 1 < high")
        return value


class MdSpec(_Strict):
    """Stage md (one job per candidate structure and temperature) and its Arrhenius fit."""

    enabled: bool = True
    temperatures: list[PositiveFloat] = Field(min_length=1, description="K")
    timestep_fs: PositiveFloat = 2.0
    steps: PositiveInt = 25_000
    equilibration_steps: NonNegativeInt = 2_500
    sample_every: PositiveInt = 10
    thermostat: Literal["langevin", "nose-hoover", "bussi"] = "langevin"
    supercell_min_length: PositiveFloat = Field(10.0, description="Å")
    seed: int = 1
    hop_length: PositiveFloat = Field(2.5, description="Å, for N_eff of He et al. 2018")
    fit_min_start_ps: PositiveFloat = Field(
        2.0, description="ps; the diffusive fit window never starts earlier"
    )
    fit_slope_min: float = Field(
        0.8, ge=0.0, le=1.0, description="lowest log-log MSD slope the fit window accepts"
    )
    compositions: list[str] = Field(
        default_factory=list, description="reduced formulas to run MD on; empty: all"
    )
    stability: StabilitySpec = StabilitySpec()

    @field_validator("temperatures")
    @classmethod
    def _distinct(cls, value: list[float]) -> list[float]:
        if len(set(value)) != len(value):
            raise ValueError(f"temperatures {value} are listed twice")
        return value


class NebSpec(_Strict):
    """Stage neb (one job per candidate structure): hops found, bands run, percolation."""

    enabled: bool = True
    cutoff: PositiveFloat = Field(4.0, description="Å, longest hop between mobile sites")
    mechanism: Literal["vacancy", "interstitial"] = "vacancy"
    interstitial_min_distance: PositiveFloat = Field(
        1.0, description="Å, closest an interstitial site may be to an atom"
    )
    images: PositiveInt = 5
    fmax: PositiveFloat = Field(0.05, description="eV/Å")
    max_steps: PositiveInt = 500
    supercell_min_length: PositiveFloat = Field(10.0, description="Å")
    max_hops: PositiveInt = Field(10, description="hop classes computed per structure")
    compositions: list[str] = Field(
        default_factory=list, description="reduced formulas to run NEB on; empty: all"
    )


class CampaignSpec(_Strict):
    """The whole campaign file."""

    name: str
    parent: str
    supercell: tuple[PositiveInt, PositiveInt, PositiveInt] = (1, 1, 1)
    potential: str = "chgnet"
    mobile_species: str | None = None
    charge_balance: bool = True
    oxidation_states: dict[str, int] | None = None
    database: str | None = None
    sublattices: dict[str, SublatticeSpec] = Field(min_length=1)
    enumeration: EnumerationSpec = EnumerationSpec()
    relax: RelaxSpec = RelaxSpec()
    hull: HullSpec = HullSpec()
    farm: FarmSpec = FarmSpec()
    md: MdSpec | None = None
    neb: NebSpec | None = None

    @field_validator("name")
    @classmethod
    def _name_is_legal(cls, value: str) -> str:
        return check_name(value)

    @model_validator(mode="after")
    def _transport_needs_mobile_species(self) -> CampaignSpec:
        if self.md is not None and self.md.enabled and self.mobile_species is None:
            raise ValueError("[md] needs mobile_species (the ion whose diffusion is measured)")
        if self.neb is not None and self.neb.enabled and self.mobile_species is None:
            raise ValueError("[neb] needs mobile_species (the ion whose hops are computed)")
        return self

    @field_validator("mobile_species")
    @classmethod
    def _mobile_is_element(cls, value: str | None) -> str | None:
        return None if value is None else _check_element(value)

    @field_validator("oxidation_states")
    @classmethod
    def _oxidation_keys(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        for symbol in value or {}:
            _check_element(symbol)
        return value

    @field_validator("potential")
    @classmethod
    def _potential_parses(cls, value: str) -> str:
        try:
            PotentialSpec.parse(value)
        except PotentialError as err:
            if not re.fullmatch(NAME_PATTERN, value):  # else maybe a registered name
                raise ValueError(str(err)) from err
        return value

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)


@dataclass(frozen=True)
class CampaignPlan:
    """A validated campaign resolved against its parent crystal."""

    spec: CampaignSpec
    base_dir: Path
    parent: Structure
    supercell: Structure
    sublattices: tuple[space.Sublattice, ...]
    compositions: tuple[space.CompositionPoint, ...]
    oxidation_states: dict[str, int] | None
    potential: PotentialSpec
    competing_phases: tuple[Path, ...]


def load_campaign(path: str | Path) -> CampaignSpec:
    """Read and validate a campaign TOML file; raise CampaignError naming the field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as err:
        raise CampaignError(f"{path}: campaign file not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise CampaignError(f"{path}: cannot read the campaign file ({err})") from err
    except tomllib.TOMLDecodeError as err:
        raise CampaignError(f"{path}: malformed TOML: {err}") from err
    return parse_campaign(data, source=str(path))


def parse_campaign(data: dict, source: str = "campaign") -> CampaignSpec:
    """Validate a campaign already read into a dict."""
    try:
        return CampaignSpec.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        raise CampaignError(f"{source}: {field}: {_describe(first)}{more}") from err


def _describe(error: Any) -> str:
    """One pydantic error in words a campaign author can act on, with the value given."""
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        allowed = _keys_at(error["loc"][:-1])
        return "unknown key" + (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
    if kind == "missing":
        return "required key is missing"
    message = re.sub(r"^Value error, ", "", error["msg"])
    if isinstance(value, str | int | float) and repr(value) not in message:
        message += f" (got {value!r})"
    return message


def _keys_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys a table of the campaign file accepts at ``loc`` (empty if unknown)."""
    model: Any = CampaignSpec
    parts = list(loc)
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        if field is None:
            return []
        model = field.annotation
        if typing.get_origin(model) is dict:  # [sublattices.NAME]: skip NAME
            model = typing.get_args(model)[1]
            if parts:
                parts.pop(0)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
    return list(model.model_fields)


def plan_campaign(
    spec: CampaignSpec, base_dir: Path, registered: PotentialLookup | None = None
) -> CampaignPlan:
    """Resolve the spec against its parent; raise CampaignError on anything that cannot run.

    ``registered`` looks up a potential given by name (a fine-tuned one) -> its spec.
    """
    potential = _plan_potential(spec.potential, registered)
    try:
        with _about("parent"):
            parent = prototypes.load_parent(_resolve(spec.parent, base_dir))
        with _about("sublattices"):
            sublattices = tuple(_sublattice(name, sub) for name, sub in spec.sublattices.items())
            space.check_distinct(sublattices)
        for sublattice in sublattices:
            with _about(f"sublattices.{sublattice.name}.replaces"):
                space.sublattice_sites(parent, sublattice)
        supercell = parent.make_supercell(list(spec.supercell), in_place=False)
        counts = space.site_counts(supercell, sublattices)
        points = grid.composition_grid(sublattices)
        oxidation = spec.oxidation_states
        if spec.charge_balance:
            with _about("oxidation_states"):
                oxidation = oxidation or grid.guess_oxidation_states(parent, sublattices)
                charges = [grid.charge_of(p, parent, sublattices, oxidation) for p in points]
            if not any(charge == 0 for charge in charges):
                raise CampaignError(
                    "sublattices: no charge-neutral composition is left on the grid "
                    f"(oxidation states {oxidation}; {points[0].label()} has a net charge of "
                    f"{float(charges[0]):+g} per parent cell); check the species and "
                    "oxidation_states, or set charge_balance = false"
                )
            points = [p for p, charge in zip(points, charges, strict=True) if charge == 0]
        try:
            for point in points:
                grid.check_realisable(point, counts, spec.supercell, parent)
        except UnrealisableCompositionError as err:
            whole = _grid_supercell(points, parent, sublattices)
            raise CampaignError(
                f"supercell: {err}; set supercell = {list(whole)}, which realises every "
                "composition of the grid, or choose a coarser step"
            ) from err
        _check_stage_compositions(spec, {grid.formula_of(p, parent, sublattices) for p in points})
        if spec.enumeration.method == "ce-mc":
            _check_anneal_supercell(spec.enumeration.ce, parent, sublattices, points)
    except EnumerationError as err:
        raise CampaignError(str(err)) from err
    phases = tuple(
        _existing(_resolve(p, base_dir), "hull.competing_phases")
        for p in spec.hull.competing_phases
    )
    return CampaignPlan(
        spec=spec,
        base_dir=base_dir,
        parent=parent,
        supercell=supercell,
        sublattices=sublattices,
        compositions=tuple(points),
        oxidation_states=oxidation,
        potential=potential,
        competing_phases=phases,
    )


def load_plan(path: str | Path, registered: PotentialLookup | None = None) -> CampaignPlan:
    """Load, validate and plan a campaign file in one call."""
    path = Path(path)
    return plan_campaign(load_campaign(path), path.resolve().parent, registered)


def _plan_potential(text: str, registered: PotentialLookup | None) -> PotentialSpec:
    """A potential spec, else the spec of the potential registered under that name."""
    try:
        PotentialSpec.parse(text)
    except PotentialError as err:
        found = registered(text) if registered else None
        if found is None:
            raise CampaignError(f"potential: {err}, or the name of a registered potential") from err
        text = found
    try:
        return validate_spec(text)
    except PotentialError as err:
        raise CampaignError(f"potential: {err}") from err


@contextmanager
def _about(field: str) -> Iterator[None]:
    """Re-raise an enumeration error as a CampaignError that names ``field``."""
    try:
        yield
    except EnumerationError as err:
        raise CampaignError(f"{field}: {err}") from err


def _grid_supercell(
    points: list[space.CompositionPoint],
    parent: Structure,
    sublattices: tuple[space.Sublattice, ...],
) -> tuple[int, int, int]:
    """The smallest, most nearly cubic repetition of ``parent`` realising every point."""
    n_cells = math.lcm(
        *(math.prod(grid.smallest_realising_supercell(p, parent, sublattices)) for p in points)
    )
    return grid.most_compact_supercell(n_cells, parent)


def _sublattice(name: str, sub: SublatticeSpec) -> space.Sublattice:
    def exact(value: float) -> Fraction:
        return Fraction(value).limit_denominator(10_000)

    points = None
    if sub.points is not None:
        points = tuple({species: exact(f) for species, f in p.items()} for p in sub.points)
    return space.Sublattice(
        name=name,
        replaces=sub.replaces,
        species=tuple(sub.species),
        step=None if sub.step is None else exact(sub.step),
        points=points,
        follows=sub.follows,
    )


def _resolve(value: str, base_dir: Path) -> str:
    """A path relative to the campaign file, or the value itself (a prototype name)."""
    candidate = base_dir / value
    if "/" in value or candidate.exists():
        return str(candidate)
    is_prototype = value.strip().lower() in {n.lower() for n in prototypes.prototype_names()}
    return value if is_prototype else str(candidate)


def _existing(value: str, field: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise CampaignError(f"{field}: file not found: {value}")
    return path


def _check_anneal_supercell(
    ce: ClusterExpansionSpec,
    parent: Structure,
    sublattices: tuple[space.Sublattice, ...],
    points: list[space.CompositionPoint],
) -> None:
    """Refuse an annealing supercell of method ce-mc that misses a composition of the grid,
    or in which a cluster would reach a site's own periodic image."""
    from enumerate.sqs import shortest_image_distance  # icet: only for ce-mc campaigns

    cell = parent.make_supercell(list(ce.anneal_supercell), in_place=False)
    shortest = shortest_image_distance(cell)
    if max(ce.cutoffs) >= shortest / 2:
        raise CampaignError(
            f"enumeration.ce.anneal_supercell: a site's nearest periodic image is {shortest:.2f}"
            f" Å away, not more than twice the longest cutoff ({max(ce.cutoffs):g} Å), so"
            " clusters would meet their own images; use a larger anneal_supercell or shorter"
            " enumeration.ce.cutoffs"
        )
    counts = space.site_counts(cell, sublattices)
    try:
        for point in points:
            grid.check_realisable(point, counts, ce.anneal_supercell, parent)
    except UnrealisableCompositionError as err:
        whole = _grid_supercell(points, parent, sublattices)
        raise CampaignError(
            f"enumeration.ce.anneal_supercell: {err}; {list(whole)} (or a multiple) realises "
            "every composition of the grid"
        ) from err


def _check_stage_compositions(spec: CampaignSpec, formulas: set[str]) -> None:
    """Refuse md/neb ``compositions`` that name no composition of the grid."""
    for table, stage in (("md", spec.md), ("neb", spec.neb)):
        unknown = sorted(set(stage.compositions) - formulas) if stage is not None else []
        if unknown:
            raise CampaignError(
                f"{table}.compositions: {unknown} are not on the grid; its formulas are "
                f"{sorted(formulas)}"
            )
