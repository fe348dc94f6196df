#!/usr/bin/env bash
# Smoke test of a built ssbmech image (containers/build.sh), with buildah:
#   1. `ssbmech check` of every bundled case (/opt/ssbmech/cases in the image);
#   2. the default case serially and 3. under `mpirun -n 2`, into a host directory mounted at
#      /work (as with `docker run -v "$PWD":/work`), coarsened by SMOKE_SET;
#   4. both runs complete, 1 and 2 ranks, same DOFs, same final values (rtol 1e-6);
#   5. `ssbmech render` of the serial run (PNG maps and report.html, off-screen).
#
#   containers/smoke_test.sh [IMAGE]      (default IMAGE: localhost/ssbmech:latest)
#
# buildah runs the commands with chroot isolation: `podman run` / `docker run` need cgroups
# that some sandboxes (this project's machines) lack; elsewhere they work the same way.
# Environment: SMOKE_SET (space-separated --set overrides), KEEP (keep the run directory).
set -euo pipefail
IMAGE=${1:-localhost/ssbmech:latest}
SMOKE_SET=${SMOKE_SET:-geometry.mesh.size=200nm geometry.mesh.interface_size=70nm lithiation.steps=1 lithiation.soc_end=0.1}
CASE=/opt/ssbmech/cases/si_lpscl_rve.yaml

work=$(mktemp -d /var/tmp/ssbmech-smoke.XXXXXX)
chmod 0777 "$work"  # the image's user (uid 1000) writes there
container=$(buildah from "$IMAGE")
cleanup() {
  buildah rm "$container" >/dev/null
  if [[ -z ${KEEP:-} ]]; then rm -rf "$work"; else echo "smoke: kept $work"; fi
}
trap cleanup EXIT
inside() { buildah run --isolation chroot --volume "$work:/work" "$container" -- "$@"; }
timed() {  # timed LABEL CMD...: run CMD in the image, print its wall time
  local label=$1 start=$SECONDS
  shift
  inside "$@" >"$work/$label.log" 2>&1 || { cat "$work/$label.log"; echo "smoke: $label FAILED"; exit 1; }
  echo "smoke: $label ok ($((SECONDS - start)) s)"
}
sets=()
for s in $SMOKE_SET; do sets+=(--set "$s"); done

echo "smoke: image $IMAGE, user $(inside id -un), $(inside ssbmech --help | head -1)"
# shellcheck disable=SC2016  # expanded by the shell in the image
timed check bash -c 'for c in /opt/ssbmech/cases/*.yaml; do ssbmech check "$c" >/dev/null \
  && echo "checked $c" || exit 2; done'
timed serial ssbmech run "$CASE" --out /work/runs/serial "${sets[@]}"
timed mpirun-n2 mpirun -n 2 ssbmech run "$CASE" --out /work/runs/mpi2 "${sets[@]}"
inside python - <<'EOF'
import json, math

s, m = (json.load(open(f"/work/runs/{r}/summary.json")) for r in ("serial", "mpi2"))
assert s["status"] == m["status"] == "complete", (s["status"], m["status"])
assert (s["mpi_size"], m["mpi_size"]) == (1, 2) and s["dofs"] == m["dofs"]
for key, value in s["final"].items():
    if key.endswith("iterations"):  # GAMG iterations depend on the partition
        continue
    assert math.isclose(value, m["final"][key], rel_tol=1e-6, abs_tol=1e-3), key
print(f"smoke: serial = mpirun -n 2: {s['dofs']} DOFs, {s['steps']} steps, "
      f"total {s['timings_s']['total']:.1f} s (1 rank) / {m['timings_s']['total']:.1f} s (2)")
EOF
timed render ssbmech render /work/runs/serial
ls "$work/runs/serial/figures"/report.html >/dev/null
echo "smoke: all checks passed; run directories were written to the host through /work"
