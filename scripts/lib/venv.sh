# Sourced by the scripts that run PyTorch: latent_venv_python MODULE... prints the python of
# the virtual environment $LATENT_VENV (default .venv in the repository root, ignored by
# git), creating it and pip-installing the modules when an import of them fails. Progress
# goes to stderr, so `python=$(latent_venv_python torch numpy)` captures only the path.
latent_venv_python() {
  local venv=${LATENT_VENV:-.venv} imports
  imports=$(IFS=,; echo "$*")
  if [ ! -x "$venv/bin/python" ]; then
    echo "latent: creating the virtual environment $venv" >&2
    python3 -m venv "$venv" >&2
  fi
  if ! "$venv/bin/python" -c "import $imports" 2>/dev/null; then
    echo "latent: installing $* into $venv" >&2
    "$venv/bin/python" -m pip install --upgrade pip >&2
    "$venv/bin/python" -m pip install "$@" >&2
  fi
  echo "$venv/bin/python"
}
