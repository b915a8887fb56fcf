#!/usr/bin/env node
// Packs the built Chromium extension (dist/chromium) into a CRX3 signed with the team's own
// RSA key, and writes the update manifest Chrome polls for it, for teams that host the
// extension themselves (README "Self-hosting the Chromium extension (CRX)"):
//   CRX_KEY=key.pem CRX_URL=https://intranet.example/preview-switch.crx make crx
// writes dist/preview-switch-chromium-<version>.crx and dist/update.xml and prints the
// extension id the key gives. The repository never holds a private key: the team makes one
// once (openssl genrsa -out key.pem 2048) and keeps it; the same key keeps the same id.
//
// The format, as Chromium's components/crx_file reads it (crx3.proto, crx_creator.cc,
// crx_verifier.cc): "Cr24", u32le 3, u32le header length, a CrxFileHeader protobuf
// { repeated AsymmetricKeyProof sha256_with_rsa = 2 { bytes public_key = 1 (DER
// SubjectPublicKeyInfo); bytes signature = 2 }; bytes signed_header_data = 10000 (a SignedData
// { bytes crx_id = 1 }) }, then the zip. crx_id is the first 16 bytes of the SHA-256 of the
// public key, and the extension id is its 32 hex digits spelled a-p. The RSA PKCS#1 v1.5
// SHA-256 signature covers "CRX3 SignedData\0", u32le length of signed_header_data, the
// signed_header_data and the zip. Hand-written rather than an npm package: three protobuf
// fields and one signature from node's own crypto (ARCHITECTURE.md "Packages").
//
// The zip is dist/chromium without the manifest's `key`. That key is the Web Store
// extension's public key (protocol::ids::CHROME_EXTENSION_ID); the id of a CRX comes from the
// key that signed it. Chromium does not refuse a CRX whose manifest key differs: it takes
// the id from the CRX header (crx_file::Verify, then Extension::Create with that explicit id,
// which ignores the manifest's key in Extension::InitExtensionID) and overwrites the
// manifest's `key` with the signing key (SandboxedUnpacker::RewriteManifestFile). What it
// refuses is an id other than the one it expected (CrxInstaller::CheckExpectations,
// UNEXPECTED_ID: the policy's ExtensionSettings id and update.xml's appid). So the key is
// left out so that nothing in the package names an id other than the one it installs as.
import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

const MAKE_A_KEY = "make the team's key once with openssl genrsa -out key.pem 2048 and keep it out of the repository";

/** A problem the user can fix: printed as `crx3.mjs: <message>`, exit 1. */
class Refusal extends Error {}

function options(argv) {
  const opts = { extension: "dist/chromium", out: "dist" };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (!["--extension", "--out"].includes(flag) || value === undefined) {
      throw new Refusal(`unknown argument ${JSON.stringify(flag)}: usage: CRX_KEY=key.pem CRX_URL=https://… node scripts/crx3.mjs [--extension dist/chromium] [--out dist]`);
    }
    opts[flag.slice(2)] = value;
  }
  return opts;
}

function privateKey(file) {
  if (!file) {
    throw new Refusal(`CRX_KEY is not set, and the CRX must be signed with the team's key: ${MAKE_A_KEY}, then run CRX_KEY=key.pem CRX_URL=https://intranet.example/preview-switch.crx make crx`);
  }
  let pem;
  try {
    pem = fs.readFileSync(file);
  } catch (e) {
    throw new Refusal(`cannot read CRX_KEY ${file} (${e.code}): point CRX_KEY at the team's PEM key, or ${MAKE_A_KEY}`);
  }
  let key;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Refusal(`CRX_KEY ${file} is not an unencrypted PEM private key: ${MAKE_A_KEY}`);
  }
  if (key.asymmetricKeyType !== "rsa") {
    throw new Refusal(`CRX_KEY ${file} is an ${key.asymmetricKeyType} key, and the CRX is signed with RSA: ${MAKE_A_KEY}`);
  }
  return key;
}

function codebase(url) {
  const example = "CRX_URL=https://intranet.example/preview-switch.crx";
  if (!url) {
    throw new Refusal(`CRX_URL is not set, and update.xml must say where Chrome downloads the CRX: give the address you will serve the .crx from, e.g. ${example}`);
  }
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new Refusal(`CRX_URL ${JSON.stringify(url)} is not an absolute URL: give the address you will serve the .crx from, e.g. ${example}`);
  }
  if (!["https:", "http:"].includes(parsed.protocol)) {
    throw new Refusal(`CRX_URL ${url} is not an http(s) address, which is all Chrome's updater fetches: e.g. ${example}`);
  }
  return parsed.href;
}

function manifestOf(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
  } catch (e) {
    throw new Refusal(`cannot read ${dir}/manifest.json (${e.code ?? e.message}): run make build-extension first`);
  }
}

/** Every file under `dir`, relative, sorted, so the zip's order does not depend on the disk. */
function files(dir, prefix = "") {
  return fs
    .readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(dir, path.join(prefix, e.name)) : [path.join(prefix, e.name)]))
    .sort();
}

/** The extension as a zip, without the manifest's `key` (see the top of this file). */
function zipWithoutKey(dir, manifest) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "crx3-"));
  try {
    const tree = path.join(work, "tree");
    fs.cpSync(dir, tree, { recursive: true, dereference: true });
    const { key: _key, ...rest } = manifest;
    fs.writeFileSync(path.join(tree, "manifest.json"), JSON.stringify(rest, null, 2) + "\n");
    const list = files(tree);
    // Reproducible like dist.sh's archives: fixed times (SOURCE_DATE_EPOCH), order, no extras.
    if (process.env.SOURCE_DATE_EPOCH) {
      const t = Number(process.env.SOURCE_DATE_EPOCH);
      for (const f of list) fs.utimesSync(path.join(tree, f), t, t);
    }
    const zip = path.join(work, "extension.zip");
    execFileSync("zip", ["-qXD", zip, "-@"], { cwd: tree, input: list.join("\n") + "\n" });
    return fs.readFileSync(zip);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

// Protocol buffers, only what a CrxFileHeader needs: length-delimited fields.
function varint(n) {
  const out = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return Buffer.from(out);
}
const field = (number, bytes) => Buffer.concat([varint(number * 8 + 2), varint(bytes.length), bytes]);
function u32le(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** The CRX3 bytes and the extension id for `zip` signed with `key`. */
export function crx3(zip, key) {
  const publicKey = createPublicKey(key).export({ type: "spki", format: "der" });
  const crxId = createHash("sha256").update(publicKey).digest().subarray(0, 16);
  const signedHeaderData = field(1, crxId);
  const signature = sign(
    "sha256",
    Buffer.concat([Buffer.from("CRX3 SignedData\0"), u32le(signedHeaderData.length), signedHeaderData, zip]),
    key,
  );
  const proof = Buffer.concat([field(1, publicKey), field(2, signature)]);
  const header = Buffer.concat([field(2, proof), field(10000, signedHeaderData)]);
  const id = [...crxId.toString("hex")].map((c) => String.fromCharCode(97 + parseInt(c, 16))).join("");
  return { id, bytes: Buffer.concat([Buffer.from("Cr24"), u32le(3), u32le(header.length), header, zip]) };
}

const xmlAttr = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Google's update manifest (gupdate protocol 2.0) for one extension. */
function updateXml(id, url, version) {
  return `<?xml version="1.0" encoding="UTF-8"?>
<gupdate xmlns="http://www.google.com/update2/response" protocol="2.0">
  <app appid="${id}">
    <updatecheck codebase="${xmlAttr(url)}" version="${xmlAttr(version)}"/>
  </app>
</gupdate>
`;
}

function main() {
  const opts = options(process.argv.slice(2));
  const key = privateKey(process.env.CRX_KEY);
  const url = codebase(process.env.CRX_URL);
  const manifest = manifestOf(opts.extension);
  const { id, bytes } = crx3(zipWithoutKey(opts.extension, manifest), key);
  fs.mkdirSync(opts.out, { recursive: true });
  const crxPath = path.join(opts.out, `preview-switch-chromium-${manifest.version}.crx`);
  const xmlPath = path.join(opts.out, "update.xml");
  fs.writeFileSync(crxPath, bytes);
  fs.writeFileSync(xmlPath, updateXml(id, url, manifest.version));
  console.log(`built ${crxPath}: extension id ${id}, version ${manifest.version}
built ${xmlPath}: Chrome downloads the CRX from ${url}; serve the .crx there and update.xml at your policy's update_url
policy: dist/policy/chrome-policy-self-hosted.json, with ${id} and update.xml's address in place of the placeholders
Each machine's companion must allow this id (it allows only the Web Store extension by default):
packages built with this key (CRX_KEY=… make dist) allow it already; a companion from elsewhere runs
  preview-switch install --browser chrome --extension-id ${id}
(--browser takes chrome, chromium, brave, edge, vivaldi, comma-separated; add --system for every user of the machine)`);
}

// Run as a script; imported (by e2e/crx.test.mjs), only `crx3` is used.
if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  try {
    main();
  } catch (e) {
    if (!(e instanceof Refusal)) throw e;
    console.error(`crx3.mjs: ${e.message}`);
    process.exit(1);
  }
}
