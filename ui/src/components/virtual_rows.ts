// The window of a long list that is in view: a scrolling element's rows of
// one fixed height, of which only those in view (plus `overscan` either
// side) are drawn, each absolutely placed in a spacer as tall as them all.
// VirtualTable and the trace page's span tree both draw through it.

import { useLayoutEffect, useRef, useState } from 'preact/hooks';

export function useVirtualRows(count: number, rowHeight: number, overscan = 8) {
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 600 });

  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const measure = () => setView({ top: element.scrollTop, height: element.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const onScroll = () => {
    const element = scroller.current;
    if (element) setView({ top: element.scrollTop, height: element.clientHeight });
  };

  // Scrolls the least that brings row `index` into view.
  const reveal = (index: number) => {
    const element = scroller.current;
    if (!element || index < 0) return;
    const top = index * rowHeight;
    if (top < element.scrollTop) element.scrollTop = top;
    else if (top + rowHeight > element.scrollTop + element.clientHeight) element.scrollTop = top + rowHeight - element.clientHeight;
  };

  const first = Math.max(0, Math.floor(view.top / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((view.top + view.height) / rowHeight) + overscan);
  return { scroller, onScroll, first, last, reveal };
}
