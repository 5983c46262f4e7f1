#!/bin/sh
# captain-nginx entrypoint: run nginx on the configuration captain-controller renders.
#
# The controller writes generation trees into $CAPTAIN_NGINX_CONF_DIR (a volume shared with this
# container at the same path) and points the symlink `current` at the live one, so the live
# configuration is always $CAPTAIN_NGINX_CONF_DIR/current/nginx.conf. On a fresh install that
# file appears only once the controller has run: until then this script waits, saying why, and
# gives up after CAPTAIN_NGINX_WAIT_SECONDS (default 600, 0 = wait forever) so that Swarm
# restarts the task and the wait shows up in `docker service ps`.
#
# nginx then runs in the foreground as PID 1: the controller reloads it with SIGHUP (sent to
# this container through the Docker API) after it swapped `current`, and SIGQUIT (the image's
# stop signal) shuts it down gracefully.
#
# Any arguments replace nginx: `docker run captain-nginx nginx -V`.
set -eu

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

conf_dir=${CAPTAIN_NGINX_CONF_DIR:-/captain/generated/nginx}
conf="$conf_dir/current/nginx.conf"
limit=${CAPTAIN_NGINX_WAIT_SECONDS:-600}
interval=2
waited=0

case "$limit" in
    ''|*[!0-9]*)
        echo "captain-nginx: CAPTAIN_NGINX_WAIT_SECONDS must be a number of seconds," \
             "not '$limit'" >&2
        exit 2
        ;;
esac

while [ ! -f "$conf" ]; do
    if [ "$limit" -ne 0 ] && [ "$waited" -ge "$limit" ]; then
        echo "captain-nginx: $conf still missing after ${waited}s; exiting so Swarm restarts" \
             "this task. Is captain-controller running, with CAPTAIN_NGINX_CONF_DIR=$conf_dir" \
             "on a volume mounted at the same path in both containers?" >&2
        exit 1
    fi
    # Say why we wait: at the start, then every 10 s.
    if [ $((waited % 10)) -eq 0 ]; then
        if [ ! -d "$conf_dir" ]; then
            why="$conf_dir does not exist (is the shared volume mounted?)"
        elif [ ! -e "$conf_dir/current" ]; then
            why="no live tree yet ($conf_dir/current is missing): captain-controller renders it"
        else
            why="$conf is missing"
        fi
        echo "captain-nginx: waiting for $conf (${waited}s): $why" >&2
    fi
    sleep "$interval"
    waited=$((waited + interval))
done

echo "captain-nginx: starting nginx on $conf" \
     "(live tree: $(readlink "$conf_dir/current" 2>/dev/null || echo '?'))" >&2
exec nginx -g 'daemon off;' -c "$conf"
