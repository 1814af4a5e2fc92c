// Runs s3rver on 127.0.0.1 (a free port) over DIR with the given buckets and prints {"port":N}.
// A child process of its own because s3rver signs list continuation tokens with DES, which
// Node's OpenSSL 3 only offers with --openssl-legacy-provider (see test/helpers/s3-server.ts).
import S3rver from 's3rver';

const [dir, ...buckets] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: dir,
  configureBuckets: buckets.map((name) => ({ name })),
});
const { port } = await server.run();
process.stdout.write(JSON.stringify({ port }) + '\n');
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
