// A DOM builder small enough to need no library: h("tr", { class, dataset, onclick }, ...children).
// Text always goes in as text nodes (never as HTML), so nothing an API returns can become markup.

export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  node.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return node;
}

export const svg = (id) => {
  const node = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  node.id = id;
  return node;
};
