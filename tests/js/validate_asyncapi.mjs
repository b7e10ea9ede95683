// Validates an AsyncAPI document with the official parser (@asyncapi/parser: the AsyncAPI JSON Schema of its
// version, then the spec's own rules). Usage: node validate_asyncapi.mjs '{"path": "<document.json>"}'.
// Prints one JSON line: {"diagnostics": [{code, message, path, severity}]} (severity 0 is an error, 1 a warning).
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const { path } = JSON.parse(process.argv[2]);
const { diagnostics } = await new Parser().parse(await readFile(path, "utf8"));
const found = diagnostics.map(({ code, message, path, severity }) => ({ code, message, path, severity }));
console.log(JSON.stringify({ diagnostics: found }));
