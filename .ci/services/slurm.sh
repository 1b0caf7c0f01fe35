#!/usr/bin/env bash
# Start a throw-away single-node SLURM (munge + slurmctld + slurmd) on this host, for the launcher tests.
# Usage: .ci/services/slurm.sh [STATE_DIR]   (Debian's slurm-wlm and munge; installed where missing)
# Exits 0 when SLURM answers (sinfo shows an idle node), 1 otherwise: the SLURM tests then skip.
set -uo pipefail
ROOT=${1:-/tmp/lmbench-slurm}
up() { sinfo -h -o %T 2>/dev/null | grep -qE "idle|mixed|alloc"; }
up && exit 0
command -v slurmctld >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null; } || exit 1
mkdir -p "$ROOT"/{state,spool,log} /etc/slurm /run/munge /var/lib/munge /var/log/munge
HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 1024 ))
if ! pgrep -x munged >/dev/null; then
  [ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null
  chmod 400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged 2>/dev/null || /usr/sbin/munged --force
fi
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=lmbench
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$ROOT/state
SlurmdSpoolDir=$ROOT/spool
SlurmctldPidFile=$ROOT/slurmctld.pid
SlurmdPidFile=$ROOT/slurmd.pid
SlurmctldLogFile=$ROOT/log/slurmctld.log
SlurmdLogFile=$ROOT/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
rm -f /etc/slurm/cgroup.conf
slurmctld -c 2>>"$ROOT/log/start.log"
slurmd -c 2>>"$ROOT/log/start.log"
for _ in $(seq 1 30); do up && exit 0; sleep 1; done
echo "SLURM did not come up; see $ROOT/log" >&2
exit 1
