#!/usr/bin/env bash
# Creates the virtual environment and installs the project from the pinned constraints, printing one
# line per step; pip's output is kept in the venv's install.log and shown only when a step fails.
set -uo pipefail
python=${1:-python3}
venv=${2:-.venv}
log="$venv/install.log"
start=$SECONDS

step() {  # step "message" command...
  local message=$1
  shift
  printf '%s ... ' "$message"
  local t=$SECONDS
  if "$@" >>"$log" 2>&1; then
    echo "完成 (done, $((SECONDS - t)) s)"
  else
    echo "失败 (failed)"
    echo "--- $log (最后 30 行 last 30 lines) ---" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}

echo "首次使用：正在准备运行环境 (first use: setting up $venv; about 1-2 minutes, log in $log)"
"$python" -m venv "$venv" || { echo "无法创建虚拟环境 (cannot create the virtual environment with $python)" >&2; exit 1; }
: >"$log"
step "[1/3] 更新 pip (upgrading pip)" "$venv/bin/pip" install --upgrade pip
step "[2/3] 安装依赖：Prefect、FastAPI、SQLAlchemy 等 (installing dependencies)" \
  "$venv/bin/pip" install -c constraints.txt -e '.[test,postgresql]'
step "[3/3] 检查命令 (checking the command)" "$venv/bin/campaign" --help
echo "运行环境已就绪 (ready in $((SECONDS - start)) s)"
