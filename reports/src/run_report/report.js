// The run report's behaviour: zoom the timeline, select an operation to see
// its request and response, follow links to operations and watches, copy
// the replay command. Everything works without it too (tooltips, anchors).
(function () {
  'use strict';
  var inner = document.getElementById('tl-inner');
  var axis = document.getElementById('tl-axis');
  var grid = document.getElementById('tl-grid');
  var zoom = document.getElementById('zoom');
  var zoomLabel = document.getElementById('zoom-label');
  var detail = document.getElementById('op-detail');
  var endNs = inner ? Number(inner.getAttribute('data-end-ns')) || 1 : 1;
  var selected = null;

  function niceStep(raw) {
    var power = 1;
    for (;;) {
      var ms = [1, 2, 5];
      for (var i = 0; i < ms.length; i++) {
        if (ms[i] * power >= Math.max(raw, 1)) { return ms[i] * power; }
      }
      power *= 10;
    }
  }

  function decimals(step) {
    if (step >= 1e9) { return 0; }
    if (step >= 1e8) { return 1; }
    if (step >= 1e7) { return 2; }
    if (step >= 1e6) { return 3; }
    if (step >= 1e5) { return 4; }
    if (step >= 1e4) { return 5; }
    return 6;
  }

  function drawAxis(factor) {
    if (!axis || !grid) { return; }
    var step = niceStep(endNs / (10 * factor));
    var labels = [];
    var lines = [];
    for (var t = 0; t <= endNs; t += step) {
      var left = (t / endNs * 100).toFixed(4) + '%';
      labels.push('<div class="tick" style="left:' + left + '">' + (t / 1e9).toFixed(decimals(step)) + 's</div>');
      lines.push('<div class="gridline" style="left:' + left + '"></div>');
    }
    axis.innerHTML = labels.join('');
    grid.innerHTML = lines.join('');
  }

  function setZoom(level) {
    if (!inner) { return; }
    var factor = Math.pow(2, level);
    inner.style.width = (100 * factor) + '%';
    if (zoomLabel) { zoomLabel.textContent = factor + '\u00d7'; }
    drawAxis(factor);
  }

  function flash(el) {
    el.classList.remove('flash');
    void el.offsetWidth;
    el.classList.add('flash');
  }

  function selectOp(id, reveal) {
    var el = document.getElementById('op-' + id);
    if (!el) { return; }
    if (selected) { selected.classList.remove('selected'); }
    selected = el;
    el.classList.add('selected');
    if (detail) { detail.textContent = el.getAttribute('title') || ('operation #' + id); }
    if (reveal) {
      el.scrollIntoView({ block: 'center', inline: 'center' });
      flash(el);
    }
  }

  function openWatch(id) {
    var el = document.getElementById('watch-' + id);
    if (!el) { return; }
    el.open = true;
    el.scrollIntoView({ block: 'start' });
    flash(el);
  }

  document.addEventListener('click', function (event) {
    var target = event.target;
    if (!target || !target.closest) { return; }
    var link = target.closest('a[data-op]');
    if (link) {
      event.preventDefault();
      selectOp(link.getAttribute('data-op'), true);
      return;
    }
    var watchLink = target.closest('a[data-watch]');
    if (watchLink) {
      event.preventDefault();
      openWatch(watchLink.getAttribute('data-watch'));
      return;
    }
    var op = target.closest('.op');
    if (op) { selectOp(op.getAttribute('data-op'), false); }
  });

  if (zoom) {
    zoom.addEventListener('input', function () { setZoom(Number(zoom.value)); });
  }

  var copy = document.getElementById('copy-replay');
  var command = document.getElementById('replay-cmd');
  function selectCommand() {
    var range = document.createRange();
    range.selectNodeContents(command);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  if (copy && command) {
    copy.addEventListener('click', function () {
      var text = command.textContent;
      var done = function () { copy.textContent = 'Copied'; };
      var fallback = function () {
        selectCommand();
        try { document.execCommand('copy'); done(); } catch (e) { copy.textContent = 'Press Ctrl+C'; }
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
  }

  document.body.setAttribute('data-ready', '1');
}());
