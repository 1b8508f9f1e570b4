// Independent ML-DSA check (tests/test_pq.py): verify signatures with @noble/post-quantum,
// a second, unrelated implementation of FIPS 204 (pure ML-DSA, empty context: RFC 9882 §3.2).
// stdin: JSON [{"alg": "ml-dsa-65", "public_key": hex, "message": hex, "signature": hex}, ...]
// stdout: JSON [true | false, ...] in the same order.
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';

const ALGS = { 'ml-dsa-44': ml_dsa44, 'ml-dsa-65': ml_dsa65, 'ml-dsa-87': ml_dsa87 };
const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const results = JSON.parse(input).map((item) => {
    const alg = ALGS[item.alg];
    if (!alg) throw new Error(`unknown algorithm ${item.alg}`);
    return alg.verify(hex(item.signature), hex(item.message), hex(item.public_key));
  });
  process.stdout.write(JSON.stringify(results) + '\n');
});
