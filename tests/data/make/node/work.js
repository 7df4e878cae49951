// The Node.js program whose --cpu-prof profile is tests/data/evidence/node/work.pb.gz
// (written by tests/data/make/make_evidence.py): parse, render and hash in a loop.
"use strict";
const crypto = require("crypto");

function parseOrders(n) {
  const text = JSON.stringify(Array.from({ length: n }, (_, i) => ({ id: i, qty: i % 7, sku: "sku-" + (i * 31) % 997 })));
  return JSON.parse(text);
}

function renderPage(orders) {
  let html = "";
  for (const o of orders) html += `<tr><td>${o.id}</td><td>${o.sku}</td><td>${o.qty}</td></tr>`;
  return html;
}

function hashPage(html) {
  let h = html;
  for (let i = 0; i < 20; i++) h = crypto.createHash("sha256").update(h).digest("hex");
  return h;
}

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

const end = Date.now() + 1500;
let out = 0;
while (Date.now() < end) {
  const orders = parseOrders(2000);
  out += hashPage(renderPage(orders)).length + fib(20);
}
console.log(out > 0 ? "done" : "");
