"""Named material parameter sets (SI), each value with its source (physics.md, section 2).

A case picks a set by name and may override any field:
``matrix: {base: Li6PS5Cl, E: "22 GPa"}``. Ranges in the literature are noted in the sources;
the value chosen is a default, not a truth.

Silicon convention: c and c_max are per reference (unlithiated) Si volume; Ω = 9.0e-6 m3/mol
follows from the expansion, Ω·c_max = 2.8 = ΔV/V0 at Li15Si4 (Ω = β·V_m(Si),
V_m = 1.206e-5 m3/mol).
"""

from __future__ import annotations

import difflib
from typing import Any

from solver.materials.base import Material
from solver.materials.expansion import TabulatedExpansion

# a-LixSi: film biaxial modulus M = E/(1−ν) falls linearly from 70 GPa (Li0.32Si) to 35 GPa
# (Li3.0Si) (Sethuraman et al. 2010); extrapolated to x = 0 and x = 3.75 (θ = 1, Li15Si4):
# M(0) = 74.2 GPa, M(3.75) = 25.2 GPa; with ν 0.22 → 0.28 (Shenoy et al. 2010) this gives
# E = 57.9 GPa → 18.1 GPa, linear in θ = x/3.75.
_ASSUMED_M = "assumed: m = 5, typical of brittle glasses/ceramics (no measured value found)"
_SI_FILM = "Sethuraman et al. 2010, J. Power Sources 195, 5062 (biaxial modulus of a-LixSi films)"

LIBRARY: dict[str, Material] = {
    m.name: m
    for m in (
        Material(
            name="Si",
            description="amorphous Si / a-LixSi (θ = 1 at Li15Si4-like full lithiation)",
            E=57.9e9,
            E_lithiated=18.1e9,
            nu=0.22,
            nu_lithiated=0.28,
            expansion=TabulatedExpansion(theta=[0.0, 1.0], volume_change_table=[0.0, 2.8]),
            c_max=3.11e5,
            K_IC=0.7e6,
            flaw_size=10e-9,
            weibull_modulus=5.0,
            weibull_stress=3.53e9,
            weibull_volume=1e-21,
            fracture_energy=8.5,
            flow_stress=1.75e9,
            flow_stress_lithiated=1.0e9,
            sources={
                "E": _SI_FILM + "; film data default, DFT gives ≈90 → 40 GPa (Shenoy 2010)",
                "nu": "Shenoy et al. 2010, J. Power Sources 195, 6825 (0.22 → 0.28 with x)",
                "expansion": "Obrovac & Krause 2007, J. Electrochem. Soc. 154, A103: "
                "ΔV/V0 ≈ +280 % at Li15Si4, linear in x",
                "c_max": "Obrovac & Christensen 2004 / Obrovac & Chevrier 2014: Li15Si4, per "
                "reference Si volume (3.65e5 for Li22Si5); with ΔV/V0 = 2.8, Ω = 9.0e-6 m3/mol",
                "K_IC": "Pharr et al. 2013 (0.5–0.8 MPa√m for LixSi); c-Si 0.7–1.0 (Hopcroft 2010)",
                "flaw_size": "assumed: 10 nm surface flaw in nano-Si",
                "weibull_modulus": _ASSUMED_M,
                "weibull_stress": "assumed: σ_f = K_IC/(Y√(π a0)) of the 10 nm flaw (3.53 GPa)",
                "weibull_volume": "assumed: (100 nm)³, one nano-particle",
                "fracture_energy": "Pharr et al. 2013, Nano Lett. 13, 5570: 8.5 J/m² (Li0.7Si), "
                "5.4–6.9 J/m² (Li2.8Si)",
                "flow_stress": "Sethuraman et al. 2010, J. Power Sources 195, 5062: compressive "
                "flow stress ≈ 1.75 GPa at the onset of yield in the first lithiation (x ≈ 0.1)",
                "flow_stress_lithiated": "Sethuraman et al. 2010 / Bower, Guduru & Sethuraman "
                "2011 (JMPS 59, 804): flow stress falls with x to ≈ 1 GPa (also the tensile flow "
                "stress on delithiation); linear in θ assumed, isotropic J2 (no asymmetry)",
            },
        ),
        Material(
            name="c-Si",
            description="crystalline Si, isotropic average",
            E=160e9,
            nu=0.22,
            expansion=TabulatedExpansion(theta=[0.0, 1.0], volume_change_table=[0.0, 2.8]),
            c_max=3.11e5,
            K_IC=0.9e6,
            flaw_size=10e-9,
            sources={
                "E": "Hopcroft et al. 2010, J. MEMS 19, 229 (130–188 GPa by direction)",
                "nu": "Hopcroft et al. 2010",
                "expansion": "Obrovac & Krause 2007 (+280 % at Li15Si4)",
                "c_max": "Obrovac & Christensen 2004 (Li15Si4, per reference Si volume)",
                "K_IC": "0.7–1.0 MPa√m (physics.md, c-Si)",
                "flaw_size": "assumed: 10 nm",
            },
        ),
        Material(
            name="Li6PS5Cl",
            electrolyte=True,
            description="argyrodite sulfide electrolyte",
            E=24e9,
            nu=0.30,
            K_IC=0.23e6,
            flaw_size=0.5e-6,
            hardness=1.8e9,
            weibull_modulus=5.0,
            weibull_stress=164e6,
            weibull_volume=1e-18,
            sources={
                "E": "Deng et al. 2016, J. Electrochem. Soc. 163, A67 (DFT, 22–29 GPa)",
                "nu": "Deng et al. 2016 (0.25–0.35)",
                "K_IC": "McGrogan et al. 2017, Adv. Energy Mater. 7, 1602011 (Li2S–P2S5 glass, "
                "used as proxy)",
                "flaw_size": "physics.md sanity check: Griffith flaw ≈ 0.5 µm",
                "hardness": "physics.md: H ≈ 1–2.5 GPa for Li6PS5Cl; mid value 1.8 GPa",
                "weibull_modulus": _ASSUMED_M,
                "weibull_stress": "assumed: σ_f = K_IC/(Y√(π a0)) of the 0.5 µm flaw (164 MPa)",
                "weibull_volume": "assumed: 1 µm³, a volume holding one 0.5 µm flaw",
            },
        ),
        Material(
            name="Li3PS4",
            electrolyte=True,
            description="glassy Li3PS4 (75Li2S·25P2S5)",
            E=22e9,
            nu=0.30,
            K_IC=0.23e6,
            flaw_size=0.5e-6,
            hardness=1.9e9,
            weibull_modulus=5.0,
            weibull_stress=164e6,
            weibull_volume=1e-18,
            sources={
                "E": "Sakuda et al. 2013, Sci. Rep. 3, 2261 (Li2S–P2S5 glasses 18–25 GPa)",
                "nu": "Sakuda et al. 2013 (≈0.30)",
                "K_IC": "McGrogan et al. 2017 (0.23 MPa√m)",
                "flaw_size": "assumed: 0.5 µm",
                "hardness": "McGrogan et al. 2017 (H = 1.9 GPa, Li2S–P2S5 glass)",
                "weibull_modulus": _ASSUMED_M,
                "weibull_stress": "assumed: σ_f = K_IC/(Y√(π a0)) of the 0.5 µm flaw (164 MPa)",
                "weibull_volume": "assumed: 1 µm³, a volume holding one 0.5 µm flaw",
            },
        ),
        Material(
            name="LLZTO",
            electrolyte=True,
            description="Ta-doped Li7La3Zr2O12 garnet, 98 % dense",
            E=158.5e9,
            nu=0.26,
            K_IC=1.51e6,
            flaw_size=1e-6,
            hardness=11.3e9,
            weibull_modulus=5.0,
            weibull_stress=150e6,
            weibull_volume=1e-9,
            sources={
                "E": "Hu et al. 2022 (158.5 GPa at 98 % density)",
                "nu": "Hu et al. 2022 (0.26)",
                "K_IC": "Wolfenstine et al. 2013 / Hu et al. 2022 (0.44 → 1.51 MPa√m as "
                "density rises 83 → 98 %)",
                "flaw_size": "assumed: 1 µm pore/grain-boundary flaw",
                "hardness": "Hu et al. 2022, Chin. Phys. Lett. (11.3 GPa at 98 % density)",
                "weibull_modulus": _ASSUMED_M,
                "weibull_stress": "flexural strength ≈ 150 MPa of dense garnet (Fu et al., ECS "
                "Meeting 232, 2017, LLCZN)",
                "weibull_volume": "assumed: 1 mm³, order of a flexure-test effective volume",
            },
        ),
        Material(
            name="LiPON",
            electrolyte=True,
            description="amorphous lithium phosphorus oxynitride thin-film electrolyte",
            E=77e9,
            nu=0.25,
            hardness=3.9e9,
            sources={
                "E": "Herbert et al. 2011, Thin Solid Films 520, 413 (77 GPa)",
                "nu": "Herbert et al. 2011 (0.25)",
                "hardness": "Herbert et al. 2011 (3.9 GPa)",
            },
        ),
        Material(
            name="C",
            description="amorphous/pyrolytic carbon coating of Si@C particles (no Li uptake "
            "modelled)",
            E=30e9,
            nu=0.30,
            sources={
                "E": "assumed 30 GPa: nanoindentation of amorphous and pyrolytic carbon films "
                "spans ≈ 10–60 GPa depending on sp2/sp3 content; override per case",
                "nu": "assumed 0.30 (typical for amorphous carbon, 0.2–0.35)",
            },
        ),
        Material(
            name="LiPON",
            description="lithium phosphorus oxynitride glass, sputtered thin-film electrolyte",
            E=77e9,
            nu=0.25,
            sources={
                "E": "Herbert et al. 2011, Thin Solid Films 520, 413 (nanoindentation, 77 GPa; "
                "H ≈ 3.9 GPa)",
                "nu": "Herbert et al. 2011 (0.25)",
            },
        ),
        Material(
            name="graphite",
            description="graphite (polycrystalline average) as a second active species; "
            "θ = 1 at LiC6",
            E=32.5e9,
            E_lithiated=108.9e9,
            nu=0.30,
            expansion=TabulatedExpansion(theta=[0.0, 1.0], volume_change_table=[0.0, 0.10]),
            c_max=3.1e4,
            sources={
                "E": "Qi et al. 2010, J. Electrochem. Soc. 157, A558 (DFT: 32.5 GPa for C6 → "
                "108.9 GPa for LiC6, polycrystalline average)",
                "nu": "assumed 0.30",
                "expansion": "≈ +10 % volume at LiC6 (c-axis expansion of LiC6, Qi et al. 2010)",
                "c_max": "LiC6: 1 Li per 6 C at 2.26 g/cm3 → 3.1e4 mol/m3",
            },
        ),
        Material(
            name="Cu",
            description="copper current-collector foil (ductile: no crack risk)",
            E=120e9,
            nu=0.34,
            sources={"E": "handbook, 110–130 GPa", "nu": "handbook"},
        ),
    )
}


def material_data(base: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Field values of library set ``base`` with ``overrides`` applied (not yet validated).

    Raises ValueError for an unknown name, listing the closest and all known names.
    """
    if base not in LIBRARY:
        close = difflib.get_close_matches(base, LIBRARY, n=3, cutoff=0.4)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown material {base!r}{hint} (known: {', '.join(LIBRARY)})")
    data = LIBRARY[base].model_dump()
    data.update(overrides)
    changed = {k: "case override" for k in overrides if k not in ("name", "description")}
    data["sources"] = {**data["sources"], **changed}
    return data
