// nginx configuration text shared by the origin and the nginx proxy: one worker, no access log,
// and every path nginx writes to inside the benchmark's temporary folder.
import { join } from "node:path";

/** Returns the `main` context and the start of the `http` block, up to its server blocks. */
export function nginxPreamble(dir: string, name: string): string {
  const runAsRoot = process.getuid?.() === 0 ? "user root;\n" : "";
  const temp = join(dir, `${name}-temp`);
  return `${runAsRoot}worker_processes 1;
daemon off;
master_process on;
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}-error.log`)} warn;
events {
  worker_connections 16384;
}
http {
  access_log off;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
`;
}

/** Returns the arguments that start nginx in the foreground on `configFile`. */
export function nginxArgs(configFile: string, dir: string): string[] {
  return ["-p", dir, "-c", configFile];
}
