// soak_bigbodies.mjs - N concurrent OTLP/JSON posts of M MiB each (blank
// bodies: read whole, nothing to store), to see the bytes-in-flight budget
// hold memory.  Prints the count of each answer and the time taken; read
// the server's peak RSS from /proc/PID/status (VmHWM) afterwards.
//
//   node bench/soak_bigbodies.mjs PORT N MIB
import http from 'node:http';
const [port, n, mb] = process.argv.slice(2).map(Number);
const body = Buffer.alloc(mb * 1024 * 1024, 0x20);
const one = () => new Promise((resolve) => {
  const req = http.request({ host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', agent: false,
    headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
    res.resume(); res.on('end', () => resolve(res.statusCode));
  });
  req.on('error', (e) => resolve('err:' + e.code));
  req.end(body);
});
const t0 = Date.now();
const codes = await Promise.all(Array.from({ length: n }, one));
const count = {};
for (const c of codes) count[c] = (count[c] || 0) + 1;
console.log(JSON.stringify(count), `${Date.now() - t0} ms`);
