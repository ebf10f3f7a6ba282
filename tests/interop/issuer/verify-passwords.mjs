// Better Auth's own verifyPassword (the pinned package) on pairs read from stdin as JSON:
// [{hash, password}, ...]; prints one JSON array of booleans.
import { verifyPassword } from "better-auth/crypto";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const pairs = JSON.parse(input);
const results = [];
for (const { hash, password } of pairs) results.push(await verifyPassword({ hash, password }));
console.log(JSON.stringify(results));
