# Sourced by bench/compare.sh and bench/backends.sh: `start_nginx PORT` starts nginx (1 worker,
# keep-alive without a request limit, every POST answered 202 with a small JSON body) pinned to
# $target_cpu, its files under $work/nginx, and sets $server to its pid. Needs $nginx_bin.
start_nginx() {
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log error;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$1 backlog=4096;
    location / { return 202 '{"id":"msg-1","status":"accepted"}'; }
  }
}
EOF
  taskset -c "$target_cpu" "$nginx_bin" -c "$work/nginx/nginx.conf" -p "$work/nginx" &
  server=$!
}
