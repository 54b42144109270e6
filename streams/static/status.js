// Polls /status.json and draws it: plain DOM and inline SVG, no libraries.
"use strict";

const POLL_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== "") node.textContent = text;
  return node;
}

function chart(perMinute, minutes) {
  const svg = document.createElementNS(SVG, "svg");
  const width = perMinute.length * 5;
  const top = Math.max(1, ...perMinute);
  svg.setAttribute("viewBox", `0 0 ${width} 60`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "callbacks per minute, last hour");
  perMinute.forEach((count, i) => {
    if (count === 0) return;
    const height = Math.max(1, (count / top) * 58);
    const bar = document.createElementNS(SVG, "rect");
    bar.setAttribute("x", i * 5);
    bar.setAttribute("y", 60 - height);
    bar.setAttribute("width", 4);
    bar.setAttribute("height", height);
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${minutes[i]}: ${count}`;
    bar.appendChild(title);
    svg.appendChild(bar);
  });
  return svg;
}

function providerCard(name, numbers, minutes) {
  const card = el("section", { class: "provider", "data-provider": name });
  card.appendChild(el("h2", {}, name));
  card.appendChild(chart(numbers.per_minute, minutes));
  const list = el("dl");
  const rows = [
    ["callbacks, last hour", "callbacks", numbers.callbacks_last_hour],
    ["delivered", "delivered", numbers.outcomes.delivered],
    ["failed", "failed", numbers.outcomes.failed],
    ["pending", "pending", numbers.outcomes.pending],
    ["dead letters", "dead-letters", numbers.dead_letters],
    ["consumer lag", "lag", numbers.lag],
  ];
  for (const [label, field, value] of rows) {
    list.appendChild(el("dt", {}, label));
    list.appendChild(el("dd", { class: field, "data-field": field }, String(value)));
  }
  card.appendChild(list);
  return card;
}

function deadLetterRow(letter) {
  const row = el("tr");
  row.appendChild(el("td", {}, letter.at));
  row.appendChild(el("td", {}, letter.provider));
  row.appendChild(el("td", {}, letter.key));
  row.appendChild(el("td", { class: "reason" }, letter.reason));
  row.appendChild(el("td", {}, `${letter.topic} [${letter.partition}] @${letter.offset}`));
  return row;
}

function draw(status) {
  document.getElementById("generated").textContent = `as of ${status.generated_at}`;
  const answered = status.workers.filter((w) => w.answered).length;
  const workers = document.getElementById("workers");
  workers.textContent = `${answered} of ${status.workers.length} workers answered: `;
  status.workers.forEach((worker, i) => {
    if (i > 0) workers.appendChild(document.createTextNode(", "));
    const link = el("a", { href: `${worker.url}/status` }, worker.url);
    if (!worker.answered) link.title = worker.error;
    workers.appendChild(link);
  });
  document.getElementById("partial").hidden = status.complete;

  const select = document.getElementById("search-provider");
  if (select.options.length === 0) {
    for (const name of Object.keys(status.providers)) select.appendChild(el("option", { value: name }, name));
  }
  const cards = document.getElementById("providers");
  cards.replaceChildren(
    ...Object.entries(status.providers).map(([name, numbers]) => providerCard(name, numbers, status.minutes)),
  );
  const letters = document.getElementById("dead-letters");
  letters.replaceChildren(...status.recent_dead_letters.map(deadLetterRow));
  if (status.recent_dead_letters.length === 0) {
    letters.appendChild(el("tr")).appendChild(el("td", { colspan: 5 }, "none"));
  }
  document.body.dataset.loaded = status.generated_at;
}

async function poll() {
  try {
    const response = await fetch("/status.json", { cache: "no-store" });
    if (response.ok) draw(await response.json());
    else document.getElementById("generated").textContent = `status.json answered ${response.status}`;
  } catch (error) {
    document.getElementById("generated").textContent = `status.json did not answer: ${error}`;
  }
  setTimeout(poll, POLL_MS);
}

document.getElementById("search").addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  const provider = encodeURIComponent(document.getElementById("search-provider").value);
  const id = encodeURIComponent(document.getElementById("search-id").value.trim());
  if (id) window.location.href = `/messages/${provider}/${id}`;
});

poll();
