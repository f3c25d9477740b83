import pg from 'pg';
const c = new pg.Client({
  connectionString: 'postgres://postgres:postgres@127.0.0.1:56432/' + process.argv[2],
});
await c.connect();
await c.query("set timezone = 'UTC'");
for (const q of process.argv.slice(3)) {
  const t0 = Date.now();
  const r = await c.query('explain (analyze, buffers off) ' + q);
  console.log(r.rows.map((x) => x['QUERY PLAN']).join('\n'));
  console.log('---', Date.now() - t0, 'ms');
}
await c.end();
