"""Particle RVE: silicon spheres in a solid-electrolyte box (or free-standing, without matrix).

Box [0, Lx] x [0, Ly] x [0, Lz] (m); z is the stacking direction (zmax is the top face, under
the stack pressure). Regions and boundaries are Gmsh physical groups with the names below.

The Gmsh model is built in micrometres (OpenCASCADE's absolute tolerance, 1e-7, is too coarse
for booleans of micrometre bodies written in metres); the saved mesh and the DOLFINx mesh are
in metres.

``build`` (rank 0 does all Gmsh work): box and spheres are fragmented (OpenCASCADE) so the
interfaces are conforming; with ``clipped`` placement the sphere parts outside the box are
removed, and their flat faces on the box belong to the box-face groups. Particles may carry a
``shell`` (core–shell Si@C; with a void: yolk–shell, see ``Shell``). With ``periodic``
placement every sphere crossing a face gets its periodic images (translated by ±L along the
axes it crosses: up to 7 at a corner), so the parts cut off at one face re-enter at the
opposite one; the cell then holds the full sphere volumes, and the surface mesh of every max
face is the translated mesh of its min face (``gmsh.model.mesh.setPeriodic``). Physical-group
tags are 1, 2, … in this fixed order (absent groups are skipped, the rest keep the order):
cells ``particles`` (the Si), ``shell``, ``matrix``; facets ``interface`` (particle/matrix),
``core_shell``, ``void_surface``, ``xmin`` … ``zmax`` — or, without matrix (one free-standing
particle), ``core_shell``, ``void_surface``, ``particle_surface``. Mesh size h(d) with d the
distance to the particle surfaces (``gmsh_run.graded_size_field``): h = interface_size for
d ≤ FINE_LAYER interface_size, growing linearly to ``size`` over GRADING ``size``.

Gmsh is imported inside the functions: importing it resets Python's SIGINT handler.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from mpi4py import MPI
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationInfo,
    model_validator,
)

from meshes.bundle import MeshBundle, MeshStats, Particle
from meshes.element_stats import TETRAHEDRA, element_stats
from meshes.errors import GeometryError
from meshes.gmsh_run import (
    DEFAULT_REFINEMENT,
    MODEL_UNIT,
    add_physical_groups,
    distribute,
    graded_size_field,
    write_msh,
)
from meshes.packing import check_explicit, pack_random
from meshes.particle_list import expand_csv_entry
from meshes.rearrange import pack_dense
from solver.units import Length

# Physical-group names (cells)
PARTICLES = "particles"  # the Si (cores, with a shell)
MATRIX = "matrix"
SHELL = "shell"  # coating of core–shell particles
# Physical-group names (facets)
INTERFACE = "interface"  # particle/matrix interface (outer shell surface with a shell)
PARTICLE_SURFACE = "particle_surface"  # free particle surface (no matrix)
CORE_SHELL = "core_shell"  # Si core / shell interface
VOID_SURFACE = "void_surface"  # free surfaces of the void of yolk–shell particles
BOX_FACES = ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")

FACE_TOLERANCE = 1e-6  # a surface lies on a box face within this fraction of the box size
CONTACT_DEPTH = 0.3  # a yolk sinks this fraction of the shell thickness into its shell

PositiveLength = Annotated[Length, Field(gt=0)]
Placement = Literal["inside", "clipped", "periodic"]
"""``inside`` the box, ``clipped`` at its faces, or ``periodic`` (images across faces)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExplicitParticle(_Frozen):
    """A particle given by its centre (m) and radius (m)."""

    center: tuple[Length, Length, Length]
    radius: PositiveLength


class ExplicitParticles(_Frozen):
    """Particles listed one by one (they must not overlap; 'inside' placement keeps them in).

    ``source``: the file the list was read from (``mode: csv``, see ``meshes.particle_list``).
    """

    mode: Literal["explicit"] = "explicit"
    items: list[ExplicitParticle] = Field(min_length=1)
    placement: Placement = "inside"
    source: str = ""


def _particles_entry(value: Any, info: ValidationInfo) -> Any:
    """Expand ``mode: csv`` into an explicit list (relative paths: from the case file)."""
    if isinstance(value, dict) and value.get("mode") == "csv":
        base_dir = (info.context or {}).get("base_dir")
        return expand_csv_entry(value, base_dir)
    return value


class RandomParticles(_Frozen):
    """Particles placed reproducibly from ``seed``: log-normal radii (mean, std in m).

    ``packer``: ``rsa`` (random sequential addition; jams near φ ≈ 0.38 for equal spheres) or
    ``rearrange`` (collective rearrangement; reaches φ ≥ 0.5, see ``meshes.rearrange``).
    """

    mode: Literal["random"] = "random"
    packer: Literal["rsa", "rearrange"] = "rsa"
    volume_fraction: float = Field(gt=0, lt=1)
    radius_mean: PositiveLength
    radius_std: Annotated[Length, Field(ge=0)] = 0.0
    min_gap: Annotated[Length, Field(ge=0)] = 0.0
    seed: int = 0
    placement: Placement = "inside"
    max_particles: PositiveInt = 500


class MeshSize(_Frozen):
    """Target element sizes (m): ``size`` in the bulk, ``interface_size`` at particle surfaces."""

    size: PositiveLength
    interface_size: PositiveLength | None = None
    optimize: bool = True


class Shell(_Frozen):
    """A coating on every particle (core–shell, e.g. Si@C), optionally with a void (yolk–shell).

    The particle radius r is the outer radius of the shell; the Si core has radius
    r − thickness − void. Without a void the core fills the shell (concentric). With a void
    (radial gap, m) the core rests on the bottom of its shell as a yolk does: it is shifted
    down by the void plus CONTACT_DEPTH × thickness, so it sinks into the shell over a small
    contact patch and stays attached (a floating core would have no stiffness). Contact across
    the void is not modelled: the void must stay open (check the displacements).
    """

    thickness: PositiveLength
    void: Annotated[Length, Field(ge=0)] = 0.0


class SecondSpecies(RandomParticles):
    """A second, random particle species (e.g. graphite) in its own cell region ``region``.

    Packed first (its own packer, fraction, radii and seed); the Si particles are then packed
    around it, keeping ``min_gap`` of the Si spec from it. No shell; its interface with the
    matrix is the facet group ``<region>_matrix``.
    """

    region: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")] = "graphite"

    @model_validator(mode="after")
    def _own_name(self) -> SecondSpecies:
        if self.region in (PARTICLES, MATRIX, SHELL):
            raise ValueError(f"region {self.region!r} is taken; name the species, e.g. graphite")
        return self


class StackLayer(_Frozen):
    """A dense layer under or over the composite: region name and thickness (m)."""

    region: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    thickness: PositiveLength


class ParticleRVESpec(_Frozen):
    """Geometry of a particle RVE (see module docstring).

    ``below`` / ``above``: dense layers (bottom → top) under and over the composite box, e.g. a
    Cu current collector below and a Li6PS5Cl separator above; the composite box then starts
    at z = Σ below (particle coordinates stay relative to the composite box).
    """

    kind: Literal["particle_rve"] = "particle_rve"
    box: tuple[PositiveLength, PositiveLength, PositiveLength]
    matrix: bool = True
    particles: Annotated[
        ExplicitParticles | RandomParticles,
        Field(discriminator="mode"),
        BeforeValidator(_particles_entry),
    ]
    shell: Shell | None = None
    second_species: SecondSpecies | None = None
    below: list[StackLayer] = Field(default_factory=list)
    above: list[StackLayer] = Field(default_factory=list)
    mesh: MeshSize

    @property
    def regions(self) -> tuple[str, ...]:
        """Cell region names (keys of ``materials``): particles, shell, second, matrix, layers."""
        second = (self.second_species.region,) if self.second_species else ()
        layers = tuple(dict.fromkeys(la.region for la in self.below + self.above))
        return (
            (PARTICLES,)
            + ((SHELL,) if self.shell else ())
            + second
            + ((MATRIX,) if self.matrix else ())
            + layers
        )

    @property
    def composite_bottom(self) -> float:
        """Z (m) of the composite box's bottom: the total thickness of the ``below`` layers."""
        return float(sum(la.thickness for la in self.below))

    def layer_interfaces(self) -> list[tuple[str, float, str, str]]:
        """(facet name, z (m), lower region, upper region) of every layer plane.

        The composite box counts as region ``composite`` (matrix and particles).
        """
        stack = [(la.region, la.thickness) for la in self.below]
        stack.append(("composite", float(self.box[2])))
        stack += [(la.region, la.thickness) for la in self.above]
        out, z = [], 0.0
        for (lower, t), (upper, _) in itertools.pairwise(stack):
            z += t
            out.append((f"{lower}_{upper}", z, lower, upper))
        return out

    def surfaces_of(self, active: set[str]) -> dict[str, str | None]:
        """Facet groups bounding the Si: name → region on the other side (None: free surface)."""
        if self.shell is not None:
            return {CORE_SHELL: SHELL} | ({VOID_SURFACE: None} if self.shell.void else {})
        return {INTERFACE: MATRIX} if self.matrix else {PARTICLE_SURFACE: None}

    @property
    def stack_height(self) -> float:
        """Height (m) in the stacking direction z: the box plus the ``below``/``above`` layers."""
        return float(self.box[2]) + float(sum(la.thickness for la in self.below + self.above))

    @property
    def has_box_faces(self) -> bool:
        """Only with a matrix: a free-standing particle has no faces to support or load."""
        return self.matrix

    @property
    def periodic(self) -> bool:
        """Periodic cell: particles wrap around the faces and the mesh is periodic."""
        return self.particles.placement == "periodic"

    @model_validator(mode="after")
    def _free_standing_is_one_particle(self) -> ParticleRVESpec:
        if self.periodic and not self.matrix:
            raise ValueError("placement 'periodic' needs the matrix (a periodic cell is filled)")
        if not self.matrix and not (
            isinstance(self.particles, ExplicitParticles) and len(self.particles.items) == 1
        ):
            raise ValueError(
                "a geometry without matrix is one free-standing particle: give exactly one "
                "explicit particle (separate bodies would each need their rigid motion fixed)"
            )
        if not self.matrix and self.second_species is not None:
            raise ValueError("a second species needs the matrix (matrix: true)")
        if (self.below or self.above) and (not self.matrix or self.periodic):
            raise ValueError("below/above layers need a matrix box that is not periodic")
        taken = {PARTICLES, SHELL, MATRIX, "composite"} | (
            {self.second_species.region} if self.second_species else set()
        )
        clash = sorted(taken & {la.region for la in self.below + self.above})
        if clash:
            raise ValueError(f"layer region(s) {clash} clash with the composite's regions")
        return self


def place_particles(spec: ParticleRVESpec) -> list[Particle]:
    """Particles of the spec (validated list, or seeded packing); GeometryError if impossible."""
    box = np.array(spec.box)
    second: list[Particle] = []
    if isinstance(spec.particles, ExplicitParticles):
        particles = check_explicit(spec.particles, box)
        if spec.second_species is not None:
            second = _pack(spec.second_species, box, particles, "second_species", 1)
    else:
        if spec.second_species is not None:
            second = _pack(spec.second_species, box, [], "second_species", 1)
        particles = _pack(spec.particles, box, second, "particles", 0)
    if spec.shell is not None:
        smallest = min(p.radius for p in particles)  # the Si particles (species 0)
        core = smallest - spec.shell.thickness - spec.shell.void
        if core <= 0.2 * smallest:
            raise GeometryError(
                "shell.thickness",
                f"shell thickness {spec.shell.thickness:g} m + void {spec.shell.void:g} m leave "
                f"a core of {core:g} m in the smallest particle (radius {smallest:g} m); the "
                "core radius must exceed 20 % of the particle radius",
            )
    return particles + second


def _pack(
    spec: RandomParticles, box: np.ndarray, obstacles: list[Particle], key: str, species: int
) -> list[Particle]:
    """Random particles of one species around ``obstacles`` with the spec's packer."""
    if spec.placement == "periodic" and obstacles:
        raise GeometryError(f"{key}.placement", "a second species is not yet periodic")
    packer = pack_dense if spec.packer == "rearrange" else pack_random
    return packer(spec, box, obstacles, key=key, species=species)


@dataclass(frozen=True)
class _Model:
    """Entity tags of the OCC model: physical groups in tag order, particle boundary, fraction."""

    cells: dict[str, list[int]]
    facets: dict[str, list[int]]
    particle_surfaces: list[int]
    fractions: dict[str, float]
    thicknesses: dict[str, float]


def _flat_on(bbox: list[float], axis: int, value: float, tol: float) -> bool:
    return abs(bbox[axis] - value) < tol and abs(bbox[axis + 3] - value) < tol


def _spheres(particles: list[Particle], shell: Shell | None) -> list[tuple[str, int]]:
    """OCC spheres (model units) per particle: (role, tag), roles outer / inner / core / second."""
    import gmsh

    occ = gmsh.model.occ
    out: list[tuple[str, int]] = []
    for p in particles:
        c, r = np.array(p.center) / MODEL_UNIT, p.radius / MODEL_UNIT
        if p.species == 1:
            out.append(("second", occ.addSphere(*c, r)))
            continue
        if shell is None:
            out.append(("core", occ.addSphere(*c, r)))
            continue
        t, void = shell.thickness / MODEL_UNIT, shell.void / MODEL_UNIT
        out.append(("outer", occ.addSphere(*c, r)))
        core_center = c.copy()
        if void > 0:
            out.append(("inner", occ.addSphere(*c, r - t)))
            core_center[2] -= void + CONTACT_DEPTH * t
        out.append(("core", occ.addSphere(*core_center, r - t - void)))
    return out


def periodic_images(particles: list[Particle], box: np.ndarray) -> list[Particle]:
    """The particles and, for each one crossing faces, its images translated by ±L (m)."""
    out = []
    for p in particles:
        c, r = np.array(p.center), p.radius
        shifts = [
            [0.0] + ([-size] if c[k] + r > size else []) + ([size] if c[k] - r < 0 else [])
            for k, size in enumerate(box)
        ]
        for dx in shifts[0]:
            for dy in shifts[1]:
                for dz in shifts[2]:
                    image = (c[0] + dx, c[1] + dy, c[2] + dz)
                    xyz = (float(image[0]), float(image[1]), float(image[2]))
                    out.append(Particle(xyz, r, p.species))
    return out


def _set_periodic(box: np.ndarray, faces: dict[str, list[int]], tol: float) -> None:
    """Tie the mesh of each max face to its min face: surfaces matched by translated bbox."""
    import gmsh

    for axis in range(3):
        shift = np.zeros(3)
        shift[axis] = box[axis]
        affine = [1, 0, 0, shift[0], 0, 1, 0, shift[1], 0, 0, 1, shift[2], 0, 0, 0, 1]
        masters = {s: np.array(gmsh.model.getBoundingBox(2, s)) for s in faces[BOX_FACES[2 * axis]]}
        for slave in faces[BOX_FACES[2 * axis + 1]]:
            bbox: np.ndarray = np.array(gmsh.model.getBoundingBox(2, slave)) - np.tile(shift, 2)
            match = [m for m, mb in masters.items() if np.all(np.abs(mb - bbox) < tol)]
            if len(match) != 1:
                raise RuntimeError(
                    f"periodic faces: surface {slave} on {BOX_FACES[2 * axis + 1]} has "
                    f"{len(match)} translated matches on {BOX_FACES[2 * axis]}"
                )
            gmsh.model.mesh.setPeriodic(2, [slave], match, affine)


def _build_model(spec: ParticleRVESpec, particles: list[Particle]) -> _Model:
    """Box and spheres, fragmented into conforming volumes (model units, µm).

    Every fragment is classified by the spheres it lies in: in a core → Si (``particles``),
    else in a void sphere → removed, else in an outer sphere → ``shell``, else ``matrix``;
    fragments outside the box (clipped particles) are removed.
    """
    import gmsh

    occ = gmsh.model.occ
    box = np.array(spec.box) / MODEL_UNIT
    if spec.periodic:
        particles = periodic_images(particles, np.array(spec.box))
    spheres = _spheres(particles, spec.shell)
    z0 = spec.composite_bottom / MODEL_UNIT
    box_tag = occ.addBox(0, 0, z0, *box)
    layer_boxes = []
    for layers, start in ((spec.below, 0.0), (spec.above, z0 + box[2])):
        z = start
        for layer in layers:
            t = layer.thickness / MODEL_UNIT
            layer_boxes.append((layer.region, occ.addBox(0, 0, z, box[0], box[1], t)))
            z += t
    # the output map lists, per input (boxes first, then spheres), the volumes it became
    objects = [(3, box_tag)] + [(3, tag) for _, tag in layer_boxes]
    _, pieces = occ.fragment(objects, [(3, tag) for _, tag in spheres])
    box_pieces = {t for _, t in pieces[0]}
    layer_vols: dict[str, list[int]] = {}
    for (region, _), result in zip(layer_boxes, pieces[1 : len(objects)], strict=True):
        layer_vols.setdefault(region, []).extend(t for _, t in result)
    in_layers = {t for vols in layer_vols.values() for t in vols}
    roles: dict[int, set[str]] = {}
    for (role, _), result in zip(spheres, pieces[len(objects) :], strict=True):
        for _, t in result:
            if t not in in_layers:  # a clipped particle does not enter a layer
                roles.setdefault(t, set()).add(role)
    outside = set(roles) - box_pieces  # parts of clipped spheres beyond the box
    core_vols = sorted(t for t in box_pieces if "core" in roles.get(t, ()))
    void_vols = sorted(t for t in box_pieces - set(core_vols) if "inner" in roles.get(t, ()))
    shell_vols = sorted(
        t for t in box_pieces - set(core_vols) - set(void_vols) if "outer" in roles.get(t, ())
    )
    second_vols = sorted(t for t in box_pieces if roles.get(t) == {"second"})
    matrix_vols = sorted(box_pieces - set(roles)) if spec.matrix else []
    particle_vols = core_vols + shell_vols  # the composite particles
    occ.synchronize()

    def boundary(vols: list[int]) -> set[int]:
        dimtags = gmsh.model.getBoundary([(3, t) for t in vols], combined=False, oriented=False)
        return {abs(t) for _, t in dimtags}

    def fraction(vols: list[int]) -> float:
        return sum(occ.getMass(3, t) for t in vols) / float(np.prod(box))

    fractions = {PARTICLES: fraction(particle_vols + void_vols)}
    if spec.second_species is not None:
        fractions[spec.second_species.region] = fraction(second_vols)
    if spec.shell is not None:
        fractions.update(core=fraction(core_vols), shell=fraction(shell_vols))
        fractions.update(void=fraction(void_vols))
    void_faces = boundary(void_vols)
    kept = set(particle_vols + second_vols + matrix_vols) | in_layers
    removed = (box_pieces | outside) - kept
    if removed:
        occ.remove([(3, t) for t in sorted(removed)], recursive=True)
    occ.synchronize()

    core_shell = boundary(core_vols) & boundary(shell_vols)
    outer = boundary(particle_vols) - core_shell - void_faces
    cells = {PARTICLES: core_vols}
    if shell_vols:
        cells[SHELL] = shell_vols
    if spec.second_species is not None:
        cells[spec.second_species.region] = second_vols
    facets: dict[str, list[int]] = {}
    if matrix_vols:
        cells[MATRIX] = matrix_vols
        facets[INTERFACE] = sorted(outer & boundary(matrix_vols))
        if spec.second_species is not None:
            name = f"{spec.second_species.region}_{MATRIX}"
            facets[name] = sorted(boundary(second_vols) & boundary(matrix_vols))
    cells.update({region: sorted(vols) for region, vols in layer_vols.items()})
    if shell_vols:
        facets[CORE_SHELL] = sorted(core_shell)
    if void_vols:
        facets[VOID_SURFACE] = sorted(void_faces & boundary(particle_vols))
    if matrix_vols:
        every = particle_vols + second_vols + matrix_vols + sorted(in_layers)
        surfaces = boundary(every)
        extent = np.array([box[0], box[1], spec.stack_height / MODEL_UNIT])
        tol = FACE_TOLERANCE * float(extent.max())
        for i, name in enumerate(BOX_FACES):
            axis, value = i // 2, (0.0 if i % 2 == 0 else extent[i // 2])
            facets[name] = sorted(
                s for s in surfaces if _flat_on(gmsh.model.getBoundingBox(2, s), axis, value, tol)
            )
        for name, z_plane, _, _ in spec.layer_interfaces():
            facets[name] = sorted(
                s
                for s in surfaces
                if _flat_on(gmsh.model.getBoundingBox(2, s), 2, z_plane / MODEL_UNIT, tol)
            )
        if spec.periodic:
            _set_periodic(box, facets, tol)
    else:
        facets[PARTICLE_SURFACE] = sorted(outer)
    area = float(box[0] * box[1])
    thicknesses = {
        region: sum(occ.getMass(3, t) for t in vols) / area * MODEL_UNIT
        for region, vols in layer_vols.items()
    }
    mesh_surfaces = sorted(boundary(particle_vols + second_vols))
    return _Model(cells, facets, mesh_surfaces, fractions, thicknesses)


def _mesh_on_root(
    spec: ParticleRVESpec, msh_path: Path | None
) -> tuple[dict[str, dict[str, int]], MeshStats]:
    """Place particles, build, tag and mesh the Gmsh model (initialised); write ``msh_path``."""
    import gmsh

    z0 = spec.composite_bottom
    particles = [
        Particle((p.center[0], p.center[1], p.center[2] + z0), p.radius, p.species)
        for p in place_particles(spec)
    ]
    gmsh.model.add("particle_rve")
    model = _build_model(spec, particles)
    names = add_physical_groups(model.cells, model.facets)
    size = spec.mesh.size / MODEL_UNIT
    fine = (spec.mesh.interface_size or spec.mesh.size / DEFAULT_REFINEMENT) / MODEL_UNIT
    graded_size_field(model.particle_surfaces, size, fine, spec.mesh.optimize)
    gmsh.model.mesh.generate(3)
    write_msh(msh_path)
    mesh, _ = element_stats(TETRAHEDRA, model.cells)
    requested = (
        {PARTICLES: spec.particles.volume_fraction}
        if isinstance(spec.particles, RandomParticles)
        else {}
    )
    if spec.second_species is not None:
        requested[spec.second_species.region] = spec.second_species.volume_fraction
    stats = replace(
        mesh,
        volume_fractions_requested=requested,
        volume_fractions_achieved=model.fractions,
        particles=tuple(particles),
        thicknesses_requested={la.region: la.thickness for la in spec.below + spec.above},
        thicknesses_achieved=model.thicknesses,
    )
    return names, stats


def build(
    comm: MPI.Comm, spec: ParticleRVESpec, msh_path: Path | None = None, verbose: bool = False
) -> MeshBundle:
    """Build the RVE on rank 0, write ``msh_path`` if given, and distribute it over ``comm``.

    Gmsh is silent unless ``verbose`` or the environment variable ``SSBMECH_GMSH_VERBOSE`` is
    set (not "0"). Collective. Raises GeometryError (on every rank) for an impossible request,
    RuntimeError (on every rank) if Gmsh fails.
    """
    return distribute(
        comm, lambda path: _mesh_on_root(spec, path), "the particle RVE", msh_path, verbose
    )
