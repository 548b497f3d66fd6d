#!/usr/bin/env bash
# Install the Debian packages Vigilante runs for real, when their binaries are missing.
# Usage: scripts/install_system_packages.sh [--with-test-services]
#   always: prometheus (prometheus, promtool), prometheus-alertmanager (prometheus-alertmanager, amtool)
#   --with-test-services: also mariadb-server, which the no-overselling tests start on 127.0.0.1,
#     victoria-metrics (victoria-metrics, vmagent, vmalert), which the VictoriaMetrics tests run,
#     and kubectl (its kustomize builds the manifests in the tests): the `kubectl` package when an
#     apt source offers it (pkgs.k8s.io, Google's Cloud SDK), never Debian's kubernetes-client,
#     whose kubectl 1.20 embeds kustomize v2, too old for the manifests' components.
#     Without kubectl the manifest tests skip, or fail the run under CI=true.
# Idempotent: does nothing when every binary is found. Other systems: point PROMETHEUS_BIN,
# PROMTOOL_BIN, ALERTMANAGER_BIN and AMTOOL_BIN (VICTORIA_METRICS_BIN, VMAGENT_BIN, VMALERT_BIN)
# at your own binaries instead.
set -euo pipefail

declare -A wanted=(
  [prometheus]=prometheus
  [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [amtool]=prometheus-alertmanager
)
if [[ "${1:-}" == "--with-test-services" ]]; then
  wanted[mariadbd]=mariadb-server
  wanted[victoria-metrics]=victoria-metrics
  wanted[vmagent]=victoria-metrics
  wanted[vmalert]=victoria-metrics
fi

overridden() {  # a binary named by its *_BIN variable counts as present
  case "$1" in
    prometheus) [[ -n "${PROMETHEUS_BIN:-}" ]] ;;
    promtool) [[ -n "${PROMTOOL_BIN:-}" ]] ;;
    prometheus-alertmanager) [[ -n "${ALERTMANAGER_BIN:-}" ]] ;;
    amtool) [[ -n "${AMTOOL_BIN:-}" ]] ;;
    victoria-metrics) [[ -n "${VICTORIA_METRICS_BIN:-}" ]] ;;
    vmagent) [[ -n "${VMAGENT_BIN:-}" ]] ;;
    vmalert) [[ -n "${VMALERT_BIN:-}" ]] ;;
    *) false ;;
  esac
}

declare -A missing=()
for binary in "${!wanted[@]}"; do
  if ! overridden "$binary" && ! command -v "$binary" >/dev/null 2>&1 && [[ ! -x "/usr/sbin/$binary" ]]; then
    missing[${wanted[$binary]}]=1
  fi
done

check_kubectl() {
  [[ "${1:-}" == "--with-test-services" ]] || return 0
  command -v kubectl >/dev/null 2>&1 && return 0
  if command -v apt-cache >/dev/null 2>&1 && apt-cache policy kubectl 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    echo "Installing kubectl"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends kubectl >/dev/null
    return 0
  fi
  local message="kubectl not found and no apt source offers it: install it from https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/ (Debian's kubernetes-client is too old: its kustomize cannot build the manifests)"
  if [[ "${CI:-}" == "true" ]]; then
    echo "error: $message" >&2
    exit 1
  fi
  echo "warning: $message; the manifest tests will be skipped" >&2
}

sudo=""
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
fi
if [[ ${#missing[@]} -eq 0 ]]; then
  check_kubectl "${1:-}"
  exit 0
fi
packages="${!missing[*]}"

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: missing Debian packages: $packages, and this is not a Debian system (no apt-get)." >&2
  echo "Install Prometheus 2.x and Alertmanager 0.25+ yourself and set PROMETHEUS_BIN, PROMTOOL_BIN," >&2
  echo "ALERTMANAGER_BIN and AMTOOL_BIN to their paths (VictoriaMetrics 1.79+: VICTORIA_METRICS_BIN, VMAGENT_BIN," >&2
  echo "VMALERT_BIN)." >&2
  exit 1
fi
if [[ $(id -u) -ne 0 && -z "$sudo" ]]; then
  echo "error: missing Debian packages: $packages; installing them needs root." >&2
  echo "Run as root: apt-get update && apt-get install -y $packages" >&2
  exit 1
fi
echo "Installing Debian packages: $packages"
$sudo apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is intended
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $packages >/dev/null
check_kubectl "${1:-}"
