# Sourced by the scripts that run the numpy peer (national-ab.sh, national-drift.sh): its path
# (PEER, default ../shared/peers/numpy_peer.py) and `need_peer`, which checks it can run.
PEER=${PEER:-../shared/peers/numpy_peer.py}
# The peer lives outside the repository (../shared) and needs numpy, which a fresh machine
# lacks: say so before any run rather than fail with a traceback in the middle of a sitting.
need_peer() {
    [ -f "$PEER" ] || { echo "$0: the numpy peer $PEER is missing (set PEER to its path)" >&2; exit 2; }
    python3 -c 'import numpy' 2>/dev/null || { echo "$0: the numpy peer needs numpy: python3 -m pip install numpy" >&2; exit 2; }
}
