"""Typed SQLAlchemy 2 ORM models: the single source of truth of a campaign.

Units are in the column comments (and in names where a name can carry them):
energies eV, lengths Å, angles degrees, volume Å^3, density g/cm^3.
Structures are stored once (content hash) and shared between campaigns; a job is
keyed on (structure, kind, parameters hash, potential) so re-running is idempotent.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JOB_STATUSES = ("pending", "running", "done", "failed")
STRUCTURE_ROLES = ("candidate", "reference")
FRAME_SPLITS = ("train", "valid", "test")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Potential(Base):
    """An interatomic potential, identified by its spec and the hash of its weights."""

    __tablename__ = "potential"
    __table_args__ = (UniqueConstraint("spec", "weights_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    spec: Mapped[str] = mapped_column(String(500), comment="potential spec string, e.g. chgnet")
    weights_sha256: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("potential.id"), comment="base potential of a fine-tuned one"
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # Provenance of a fine-tuned potential (NULL for the universal ones).
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset.id"), comment="dataset it was fine-tuned on"
    )
    split_json: Mapped[str | None] = mapped_column(
        Text, comment="{split: {frames, frame_hashes_sha256}} of the frames used"
    )
    hyperparameters_json: Mapped[str | None] = mapped_column(
        Text, comment="trainer settings: epochs, learning rate, batch size, ..."
    )
    model_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("artifact.sha256"), comment="the model file in the artifact store"
    )
    test_energy_rmse_mev_atom: Mapped[float | None] = mapped_column(
        Float, comment="meV/atom on the test split"
    )
    test_force_rmse_mev_ang: Mapped[float | None] = mapped_column(
        Float, comment="meV/Å per force component on the test split"
    )
    test_stress_rmse_gpa: Mapped[float | None] = mapped_column(
        Float, comment="GPa per stress component, test frames with stress"
    )
    training_wall_time_s: Mapped[float | None] = mapped_column(Float, comment="seconds")


class Campaign(Base):
    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    spec_json: Mapped[str] = mapped_column(Text, comment="the validated campaign spec")
    potential_id: Mapped[int] = mapped_column(ForeignKey("potential.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    potential: Mapped[Potential] = relationship()


class Composition(Base):
    """A point of the campaign's substitution space."""

    __tablename__ = "composition"
    __table_args__ = (UniqueConstraint("campaign_id", "fractions_json"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    formula: Mapped[str] = mapped_column(String(200), comment="reduced formula")
    fractions_json: Mapped[str] = mapped_column(
        String(2000), comment="sublattice fractions {sublattice: {species: fraction}}"
    )


class Structure(Base):
    """An atomic structure, stored once whatever campaigns use it."""

    __tablename__ = "structure"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    formula: Mapped[str] = mapped_column(String(200), comment="reduced formula")
    n_atoms: Mapped[int] = mapped_column(Integer)
    origin_kind: Mapped[str] = mapped_column(String(40), comment="sqs, reference, ...")
    origin_json: Mapped[str] = mapped_column(Text, comment="method, seed, objective, ...")
    structure_json: Mapped[str] = mapped_column(Text, comment="pymatgen Structure.as_dict()")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class CampaignStructure(Base):
    """Membership of a structure in a campaign: a candidate of a composition or a hull reference."""

    __tablename__ = "campaign_structure"
    __table_args__ = (CheckConstraint(f"role IN {STRUCTURE_ROLES}", name="role"),)

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True
    )
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), primary_key=True)
    composition_id: Mapped[int | None] = mapped_column(
        ForeignKey("composition.id", ondelete="CASCADE"),
        index=True,
        comment="NULL for hull reference phases",
    )
    role: Mapped[str] = mapped_column(String(20))


class Job(Base):
    """One unit of compute. Unique on (structure, kind, parameters, potential)."""

    __tablename__ = "job"
    __table_args__ = (
        UniqueConstraint("structure_id", "kind", "params_hash", "potential_id"),
        CheckConstraint(f"status IN {JOB_STATUSES}", name="status"),
        Index("ix_job_status_kind", "status", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    kind: Mapped[str] = mapped_column(String(40), comment="stage name: relax, ...")
    params_hash: Mapped[str] = mapped_column(String(64))
    params_json: Mapped[str] = mapped_column(Text)
    potential_id: Mapped[int] = mapped_column(ForeignKey("potential.id"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, comment="last failure, readable")
    worker: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Relaxation(Base):
    """Result of a relax job: the relaxed structure and its queryable numbers."""

    __tablename__ = "relaxation"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id"), unique=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    potential_id: Mapped[int] = mapped_column(ForeignKey("potential.id"))
    energy_ev: Mapped[float] = mapped_column(Float, comment="total energy, eV")
    energy_ev_atom: Mapped[float] = mapped_column(Float, comment="eV/atom")
    a: Mapped[float] = mapped_column(Float, comment="Å")
    b: Mapped[float] = mapped_column(Float, comment="Å")
    c: Mapped[float] = mapped_column(Float, comment="Å")
    alpha: Mapped[float] = mapped_column(Float, comment="degrees")
    beta: Mapped[float] = mapped_column(Float, comment="degrees")
    gamma: Mapped[float] = mapped_column(Float, comment="degrees")
    volume_per_atom: Mapped[float] = mapped_column(Float, comment="Å^3/atom")
    density_g_cm3: Mapped[float] = mapped_column(Float)
    max_force_ev_ang: Mapped[float] = mapped_column(Float, comment="eV/Å at the last step")
    steps: Mapped[int] = mapped_column(Integer)
    converged: Mapped[bool] = mapped_column(Boolean)
    final_structure_json: Mapped[str] = mapped_column(Text, comment="pymatgen Structure.as_dict()")
    wall_time_s: Mapped[float] = mapped_column(Float, comment="seconds on the worker")
    device: Mapped[str] = mapped_column(String(40), comment="cpu, cuda:0, ...")


class Hull(Base):
    """Energy above the convex hull of one structure within one campaign's entry set."""

    __tablename__ = "hull"
    __table_args__ = (UniqueConstraint("campaign_id", "structure_id", "potential_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    potential_id: Mapped[int] = mapped_column(ForeignKey("potential.id"))
    e_hull_ev_atom: Mapped[float] = mapped_column(Float, comment="eV/atom; < 0 below the hull")
    e_form_ev_atom: Mapped[float] = mapped_column(
        Float, comment="formation energy vs the elemental references, eV/atom"
    )
    decomposition_json: Mapped[str] = mapped_column(Text, comment="{formula: fraction}")
    is_stable: Mapped[bool] = mapped_column(Boolean)
    computed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.now()
    )


class Artifact(Base):
    """A blob in the content-addressed artifact store (the bytes live in files, not here)."""

    __tablename__ = "artifact"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), comment="trajectory, msd, pre_failure, ...")
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


DIRECTIONS = ("a", "b", "c", "ab", "ac", "bc")


class MdRun(Base):
    """One NVT run at one temperature, its stability record and its diffusion numbers.

    D in cm^2/s (total from MSD/6t, lattice axes MSD/2t, lattice planes MSD/4t), times in
    ps, temperatures in K, sigma in mS/cm. NULL D means not fitted (unstable run, or no
    diffusive regime reached). ``source`` is ``mlip`` for the campaign's own runs and a
    user's label (``aimd-pbe``) for imported reference trajectories.
    """

    __tablename__ = "md_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id"), unique=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    potential_id: Mapped[int | None] = mapped_column(ForeignKey("potential.id"))
    source: Mapped[str] = mapped_column(String(100), default="mlip")
    temperature_k: Mapped[float] = mapped_column(Float)
    timestep_fs: Mapped[float] = mapped_column(Float)
    steps: Mapped[int] = mapped_column(Integer, comment="production steps asked for")
    steps_done: Mapped[int] = mapped_column(Integer, comment="including equilibration")
    thermostat: Mapped[str] = mapped_column(String(40))
    n_atoms: Mapped[int] = mapped_column(Integer)
    n_mobile: Mapped[int] = mapped_column(Integer)
    volume_ang3: Mapped[float] = mapped_column(Float, comment="Å^3 of the MD cell")
    stable: Mapped[bool] = mapped_column(Boolean)
    instability_reason: Mapped[str | None] = mapped_column(Text)
    catastrophic_step: Mapped[int | None] = mapped_column(Integer)
    diffusive: Mapped[bool] = mapped_column(Boolean, comment="the MSD reached a diffusive regime")
    d_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_err_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_a_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_a_err_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_b_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_b_err_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_c_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_c_err_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_ab_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_ab_err_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_ac_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_ac_err_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_bc_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_bc_err_cm2_s: Mapped[float | None] = mapped_column(Float)
    fit_start_ps: Mapped[float | None] = mapped_column(Float)
    fit_end_ps: Mapped[float | None] = mapped_column(Float)
    n_eff: Mapped[float | None] = mapped_column(Float, comment="He et al. 2018 N_eff")
    haven_ratio: Mapped[float | None] = mapped_column(Float)
    sigma_ms_cm: Mapped[float | None] = mapped_column(Float, comment="Nernst-Einstein at T")
    trajectory_sha256: Mapped[str | None] = mapped_column(ForeignKey("artifact.sha256"))
    analysis_sha256: Mapped[str | None] = mapped_column(ForeignKey("artifact.sha256"))
    pre_failure_sha256: Mapped[str | None] = mapped_column(ForeignKey("artifact.sha256"))
    wall_time_s: Mapped[float] = mapped_column(Float)
    device: Mapped[str] = mapped_column(String(40))


class Arrhenius(Base):
    """Arrhenius fit of ln D(T) for one structure, potential, direction and source.

    E_a in eV with its standard error, D0 and D(300 K) in cm^2/s, sigma(300 K) in mS/cm,
    both with their 95% intervals from the fit's full covariance.
    """

    __tablename__ = "arrhenius"
    __table_args__ = (
        UniqueConstraint("structure_id", "potential_id", "direction", "source"),
        CheckConstraint(f"direction IN {('total', *DIRECTIONS)}", name="direction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    potential_id: Mapped[int] = mapped_column(ForeignKey("potential.id"))
    source: Mapped[str] = mapped_column(String(100), default="mlip")
    direction: Mapped[str] = mapped_column(String(10))
    e_a_ev: Mapped[float] = mapped_column(Float)
    e_a_err_ev: Mapped[float | None] = mapped_column(Float, comment="NULL with 2 temperatures")
    d0_cm2_s: Mapped[float] = mapped_column(Float)
    d_300k_cm2_s: Mapped[float] = mapped_column(Float)
    d_300k_low_cm2_s: Mapped[float | None] = mapped_column(Float)
    d_300k_high_cm2_s: Mapped[float | None] = mapped_column(Float)
    sigma_300k_ms_cm: Mapped[float | None] = mapped_column(Float)
    sigma_300k_low_ms_cm: Mapped[float | None] = mapped_column(Float)
    sigma_300k_high_ms_cm: Mapped[float | None] = mapped_column(Float)
    temperatures_json: Mapped[str] = mapped_column(Text, comment="K, the stable runs used")
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class NebRun(Base):
    """The NEB stage of one relaxed structure: its hops, and the percolating barriers.

    ``barrier_{1,2,3}d_ev``: the smallest barrier E (eV) such that converged hops with
    barrier <= E connect the mobile ions into an infinite network in that many dimensions;
    NULL when they never do. ``skipped_json`` lists the hop classes the cap left out.
    """

    __tablename__ = "neb_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id"), unique=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    potential_id: Mapped[int] = mapped_column(ForeignKey("potential.id"))
    mechanism: Mapped[str] = mapped_column(String(20))
    cutoff_ang: Mapped[float] = mapped_column(Float, comment="Å, longest hop considered")
    spacegroup: Mapped[str] = mapped_column(String(40))
    grouping: Mapped[str] = mapped_column(String(20), comment="symmetry or environment")
    n_symmetry_classes: Mapped[int] = mapped_column(Integer)
    n_hops_computed: Mapped[int] = mapped_column(Integer)
    skipped_json: Mapped[str] = mapped_column(Text, comment="hop classes left out by max_hops")
    barrier_1d_ev: Mapped[float | None] = mapped_column(Float)
    barrier_2d_ev: Mapped[float | None] = mapped_column(Float)
    barrier_3d_ev: Mapped[float | None] = mapped_column(Float)
    profiles_sha256: Mapped[str | None] = mapped_column(ForeignKey("artifact.sha256"))
    wall_time_s: Mapped[float] = mapped_column(Float)
    device: Mapped[str] = mapped_column(String(40))
    hops: Mapped[list[NebHop]] = relationship(back_populates="run", order_by="NebHop.hop_index")


class NebHop(Base):
    """One band: a symmetry-distinct (or environment-grouped) hop of the mobile ion.

    Barriers in eV from the band's initial and final endpoints; the energy profile along the
    reaction coordinate is in the run's ``profiles_sha256`` artifact (arrays hop<i>_*).
    """

    __tablename__ = "neb_hop"
    __table_args__ = (UniqueConstraint("neb_run_id", "hop_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    neb_run_id: Mapped[int] = mapped_column(ForeignKey("neb_run.id"), index=True)
    hop_index: Mapped[int] = mapped_column(Integer)
    start_site: Mapped[int] = mapped_column(Integer)
    end_site: Mapped[int] = mapped_column(Integer)
    image_json: Mapped[str] = mapped_column(String(60), comment="lattice translation of end")
    length_ang: Mapped[float] = mapped_column(Float)
    multiplicity: Mapped[int] = mapped_column(Integer, comment="hops of the class per start")
    n_members: Mapped[int] = mapped_column(Integer, comment="hops of the class in the cell")
    environment: Mapped[str] = mapped_column(String(200))
    forward_barrier_ev: Mapped[float] = mapped_column(Float)
    reverse_barrier_ev: Mapped[float] = mapped_column(Float)
    converged: Mapped[bool] = mapped_column(Boolean)
    endpoints_converged: Mapped[bool] = mapped_column(Boolean)
    max_force_ev_ang: Mapped[float] = mapped_column(Float)
    steps: Mapped[int] = mapped_column(Integer)
    force_calls: Mapped[int] = mapped_column(Integer)
    n_atoms: Mapped[int] = mapped_column(Integer, comment="atoms in the band's supercell")
    wall_time_s: Mapped[float] = mapped_column(Float)
    run: Mapped[NebRun] = relationship(back_populates="hops")


class CompositionSummaryCache(Base):
    """A campaign's rows of the ``composition_summary`` view as of ``refreshed_at``.

    The columns from ``campaign`` to ``neb_barrier_ev`` are the view's, same names and
    units; ``db.summary_cache.refresh_summary`` replaces a campaign's rows at the end of
    every run. The explorer reads this table (the view takes seconds on large campaigns).
    """

    __tablename__ = "composition_summary_cache"

    composition_id: Mapped[int] = mapped_column(
        ForeignKey("composition.id", ondelete="CASCADE"), primary_key=True
    )
    potential_id: Mapped[int] = mapped_column(ForeignKey("potential.id"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), index=True
    )
    refreshed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    campaign: Mapped[str] = mapped_column(String(200))
    formula: Mapped[str] = mapped_column(String(200), comment="reduced formula")
    parameters: Mapped[str] = mapped_column(String(2000), comment="sublattice fractions JSON")
    potential: Mapped[str] = mapped_column(String(200))
    n_structures: Mapped[int] = mapped_column(Integer, comment="relaxed candidate structures")
    energy_ev_atom: Mapped[float | None] = mapped_column(Float, comment="lowest, eV/atom")
    e_hull_ev_atom: Mapped[float | None] = mapped_column(Float, comment="eV/atom")
    is_stable: Mapped[int | None] = mapped_column(Integer, comment="1, 0, NULL before a hull")
    a: Mapped[float | None] = mapped_column(Float, comment="Å")
    b: Mapped[float | None] = mapped_column(Float, comment="Å")
    c: Mapped[float | None] = mapped_column(Float, comment="Å")
    alpha: Mapped[float | None] = mapped_column(Float, comment="degrees")
    beta: Mapped[float | None] = mapped_column(Float, comment="degrees")
    gamma: Mapped[float | None] = mapped_column(Float, comment="degrees")
    volume_per_atom: Mapped[float | None] = mapped_column(Float, comment="Å^3/atom")
    density_g_cm3: Mapped[float | None] = mapped_column(Float)
    e_a_ev: Mapped[float | None] = mapped_column(Float)
    e_a_err_ev: Mapped[float | None] = mapped_column(Float)
    d_300k_cm2_s: Mapped[float | None] = mapped_column(Float)
    sigma_300k_ms_cm: Mapped[float | None] = mapped_column(Float)
    neb_barrier_ev: Mapped[float | None] = mapped_column(Float, comment="3D percolating, eV")


class ClusterExpansion(Base):
    """A cluster expansion fitted to one campaign's relaxed energies (method ce-mc).

    Plain data, never a pickle: ``settings_json`` holds the cluster space (the parent's
    primitive lattice with its icet symbols, cutoffs in Å) and the fit settings (method, CV
    splits, seed, mapping limits); ``ecis_json`` the ECIs in eV/site, in icet's orbit order
    (zerolet first). ``training_sha256`` hashes the training energies together with those
    settings, so the same data are never fitted twice.
    """

    __tablename__ = "cluster_expansion"
    __table_args__ = (UniqueConstraint("campaign_id", "potential_id", "training_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    potential_id: Mapped[int] = mapped_column(ForeignKey("potential.id"))
    training_sha256: Mapped[str] = mapped_column(
        String(64), comment="SHA-256 of the training energies and the settings"
    )
    settings_json: Mapped[str] = mapped_column(Text, comment="cluster space and fit settings")
    ecis_json: Mapped[str] = mapped_column(Text, comment="ECIs, eV/site, icet orbit order")
    cv_rmse_mev_site: Mapped[float] = mapped_column(
        Float, comment="meV/site, k-fold cross validation"
    )
    train_rmse_mev_site: Mapped[float] = mapped_column(
        Float, comment="meV/site, the final fit on every used structure"
    )
    n_structures_used: Mapped[int] = mapped_column(Integer)
    n_structures_dropped: Mapped[int] = mapped_column(
        Integer, comment="relaxed away from the lattice, or not mappable"
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ClusterExpansionTraining(Base):
    """One training structure of a cluster expansion: used, or dropped with the reason.

    Its lowest-energy relaxation was mapped onto the ideal lattice; the mapping numbers are
    NULL for a structure that could not be mapped.
    """

    __tablename__ = "ce_training"

    cluster_expansion_id: Mapped[int] = mapped_column(
        ForeignKey("cluster_expansion.id", ondelete="CASCADE"), primary_key=True
    )
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), primary_key=True)
    relaxation_id: Mapped[int] = mapped_column(ForeignKey("relaxation.id"))
    used: Mapped[bool] = mapped_column(Boolean)
    drop_reason: Mapped[str | None] = mapped_column(Text)
    energy_ev_site: Mapped[float | None] = mapped_column(
        Float, comment="eV per lattice site as fitted; NULL when dropped"
    )
    max_displacement_ang: Mapped[float | None] = mapped_column(
        Float, comment="Å, the largest distance of an atom from its ideal site"
    )
    volumetric_strain: Mapped[float | None] = mapped_column(
        Float, comment="relative volume change from the ideal lattice"
    )


class Dataset(Base):
    """Labelled frames for fine-tuning, split by frame hash into train, valid and test."""

    __tablename__ = "dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    valid_fraction: Mapped[float] = mapped_column(Float)
    test_fraction: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Frame(Base):
    """One labelled configuration of a dataset: energy eV, forces eV/Å, stress eV/Å^3."""

    __tablename__ = "frame"
    __table_args__ = (
        UniqueConstraint("dataset_id", "frame_hash"),
        CheckConstraint(f"split IN {FRAME_SPLITS}", name="split"),
        Index("ix_frame_dataset_id_split", "dataset_id", "split"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"))
    frame_hash: Mapped[str] = mapped_column(
        String(64), comment="SHA-256 of species, positions, cell (1e-4 Å) and energy (1e-6 eV)"
    )
    split: Mapped[str] = mapped_column(String(10), comment="train, valid or test, from the hash")
    formula: Mapped[str] = mapped_column(String(200), comment="reduced formula")
    n_atoms: Mapped[int] = mapped_column(Integer)
    structure_json: Mapped[str] = mapped_column(
        Text, comment="numbers, cell (Å), positions (Å), pbc"
    )
    energy_ev: Mapped[float] = mapped_column(Float, comment="total energy, eV")
    forces_json: Mapped[str] = mapped_column(Text, comment="eV/Å, n_atoms x 3")
    stress_json: Mapped[str | None] = mapped_column(Text, comment="eV/Å^3, Voigt xx yy zz yz xz xy")
    source: Mapped[str] = mapped_column(String(1000), comment="file, or how it was made")
    functional: Mapped[str | None] = mapped_column(String(100), comment="PBE, r2SCAN, ...")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SisGeneration(Base):
    """One generation of stability-indicated sampling: MD with ``model_id`` on the run's
    structures at each target temperature, under a temperature window (multiples of the
    target); the earliest catastrophic point t_cp (ps from the start of production), the
    frames labelled from the ``window_ps`` before it, and ``next_model_id``, fine-tuned on
    them. ``stable``: every run survived the target length and the loop stopped here."""

    __tablename__ = "sis_generation"
    __table_args__ = (UniqueConstraint("run_name", "generation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_name: Mapped[str] = mapped_column(String(200), comment="the SIS run")
    generation: Mapped[int] = mapped_column(Integer, comment="0 for the starting model")
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id"))
    model_id: Mapped[int] = mapped_column(ForeignKey("potential.id"))
    next_model_id: Mapped[int | None] = mapped_column(ForeignKey("potential.id"))
    temperatures_json: Mapped[str] = mapped_column(Text, comment="target temperatures, K")
    window_low: Mapped[float] = mapped_column(Float, comment="x target temperature")
    window_high: Mapped[float] = mapped_column(Float, comment="x target temperature")
    md_steps: Mapped[int] = mapped_column(Integer, comment="production steps to survive")
    runs: Mapped[int] = mapped_column(Integer, comment="structures x temperatures")
    unstable_runs: Mapped[int] = mapped_column(Integer)
    stable: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text, comment="why the first run failed")
    catastrophic_step: Mapped[int | None] = mapped_column(Integer)
    t_cp_ps: Mapped[float | None] = mapped_column(Float, comment="catastrophic point, ps")
    window_ps: Mapped[float] = mapped_column(Float, comment="labelled: [t_cp - window, t_cp)")
    frames_added: Mapped[int] = mapped_column(Integer)
    learning_rate: Mapped[float | None] = mapped_column(Float, comment="of the next model")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
