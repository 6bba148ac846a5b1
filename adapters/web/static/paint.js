// falbot's region painter: paint a mask over the image, say what goes there, submit.
// Plain script, no libraries; served under a Content-Security-Policy that allows only
// this origin. The mask is sent as a PNG the image's size: white repainted, black kept.
"use strict";

(function () {
  const body = document.body;
  const base = body.dataset.base;
  const canvas = document.getElementById("paint");
  const ctx = canvas.getContext("2d");
  const form = document.getElementById("form");
  const prompt = document.getElementById("prompt");
  const submit = document.getElementById("submit");
  const status = document.getElementById("status");
  const undoButton = document.getElementById("undo");
  const clearButton = document.getElementById("clear");
  const brushButton = document.getElementById("brush");
  const eraserButton = document.getElementById("eraser");
  const size = document.getElementById("size");
  const INK = "#ff2d6f";
  const UNDO_DEPTH = 30;

  // Fit the image to the screen: as wide as there is room for, and at most 75% of its height.
  const ratio = canvas.width / canvas.height;
  document.getElementById("stage").style.maxWidth = "min(100%, calc(75vh * " + ratio + "))";

  let erasing = false;
  let drawing = null; // the pointer painting now, and where it was
  let painted = false;
  let sent = false;
  let quoted = null; // a price quote shown for exactly this prompt and mask: Submit confirms it
  const history = [];

  function say(text, kind) {
    status.textContent = text;
    status.className = "status" + (kind ? " " + kind : "");
  }

  function scale() {
    // Screen pixels to image pixels: the canvas is shown fitted to the screen.
    const box = canvas.getBoundingClientRect();
    return box.width > 0 ? canvas.width / box.width : 1;
  }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    const k = scale();
    return { x: (event.clientX - box.left) * k, y: (event.clientY - box.top) * k };
  }

  function refresh() {
    painted = hasPaint();
    undoButton.disabled = sent || history.length === 0;
    clearButton.disabled = sent || !painted;
    submit.disabled = sent || !painted || prompt.value.trim() === "";
  }

  function hasPaint() {
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < data.length; i += 4) {
      if (data[i] !== 0) return true;
    }
    return false;
  }

  function remember() {
    history.push(ctx.getImageData(0, 0, canvas.width, canvas.height));
    if (history.length > UNDO_DEPTH) history.shift();
  }

  function stroke(from, to) {
    ctx.save();
    ctx.globalCompositeOperation = erasing ? "destination-out" : "source-over";
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = Number(size.value) * scale();
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    ctx.restore();
  }

  canvas.addEventListener("pointerdown", function (event) {
    if (sent || drawing !== null || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    remember();
    const at = point(event);
    drawing = { id: event.pointerId, at: at };
    stroke(at, at);
  });

  canvas.addEventListener("pointermove", function (event) {
    if (drawing === null || event.pointerId !== drawing.id) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const e of events.length ? events : [event]) {
      const at = point(e);
      stroke(drawing.at, at);
      drawing.at = at;
    }
  });

  function end(event) {
    if (drawing === null || event.pointerId !== drawing.id) return;
    drawing = null;
    refresh();
  }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("contextmenu", function (event) { event.preventDefault(); });

  function pick(eraser) {
    erasing = eraser;
    brushButton.classList.toggle("on", !eraser);
    eraserButton.classList.toggle("on", eraser);
    brushButton.setAttribute("aria-pressed", String(!eraser));
    eraserButton.setAttribute("aria-pressed", String(eraser));
  }
  brushButton.addEventListener("click", function () { pick(false); });
  eraserButton.addEventListener("click", function () { pick(true); });

  undoButton.addEventListener("click", function () {
    const last = history.pop();
    if (last) ctx.putImageData(last, 0, 0);
    refresh();
  });

  clearButton.addEventListener("click", function () {
    remember();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    refresh();
  });

  prompt.addEventListener("input", refresh);

  function maskPng() {
    // Every painted pixel white (its coverage kept at the edges), on black.
    const white = document.createElement("canvas");
    white.width = canvas.width;
    white.height = canvas.height;
    const w = white.getContext("2d");
    w.drawImage(canvas, 0, 0);
    w.globalCompositeOperation = "source-in";
    w.fillStyle = "#ffffff";
    w.fillRect(0, 0, white.width, white.height);
    const mask = document.createElement("canvas");
    mask.width = canvas.width;
    mask.height = canvas.height;
    const m = mask.getContext("2d");
    m.fillStyle = "#000000";
    m.fillRect(0, 0, mask.width, mask.height);
    m.drawImage(white, 0, 0);
    return mask.toDataURL("image/png");
  }

  function explain(answer, fallback) {
    const error = answer && answer.error;
    if (!error) return fallback;
    return error.hint ? error.message + " " + error.hint : error.message;
  }

  async function watch() {
    for (;;) {
      let answer = null;
      try {
        const response = await fetch(base + "/status", { cache: "no-store" });
        answer = await response.json();
        if (!response.ok) {
          say(explain(answer, "I cannot tell how the job is doing."), "error");
          return;
        }
      } catch (err) {
        say("Lost touch with falbot; the result will still be posted.", "error");
        return;
      }
      if (answer.state === "posted") {
        say("Done: posted in " + answer.place + ". You can close this page.", "done");
        return;
      }
      if (answer.state === "failed") {
        say("The job failed: " + answer.message, "error");
        return;
      }
      if (answer.state === "queued") {
        say(answer.position ? "Queued: number " + answer.position + " in line." : "Queued.");
      } else {
        say("Painting… the result will be posted in " + answer.place + ".");
      }
      await new Promise(function (resolve) { setTimeout(resolve, 1500); });
    }
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (sent || !painted) return;
    sent = true;
    refresh();
    say("Sending…");
    status.scrollIntoView({ block: "nearest" }); // on a phone the form runs below the fold
    let response;
    let answer = null;
    const mask = maskPng();
    const payload = { prompt: prompt.value, mask: mask };
    if (quoted && quoted.prompt === payload.prompt && quoted.mask === mask) {
      payload.confirm = quoted.id;
    }
    quoted = null;
    submit.textContent = "Submit";
    try {
      response = await fetch(base, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(payload),
      });
      answer = await response.json();
    } catch (err) {
      sent = false;
      refresh();
      say("Could not reach falbot. Try Submit again.", "error");
      return;
    }
    if (response.status === 402 && answer && answer.quote) {
      // Above the workspace's price threshold: nothing started; Submit again confirms.
      quoted = { id: answer.quote.id, prompt: payload.prompt, mask: mask };
      sent = false;
      submit.textContent = answer.quote.confirm;
      refresh();
      say(answer.quote.text);
      return;
    }
    if (!response.ok) {
      const gone = response.status === 404 || response.status === 410;
      sent = gone;
      refresh();
      say(explain(answer, "falbot refused that."), "error");
      return;
    }
    say("Queued.");
    watch();
  });

  refresh();
})();
