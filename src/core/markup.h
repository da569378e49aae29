// Text put into HTML or SVG (XML) markup, in an element or a quoted
// attribute: the five characters that could end either are written as
// entities. The reports Slipway writes (training's SVG charts, the drift
// report's HTML) put user data (column names, category values) there.
#pragma once

#include <string>
#include <string_view>

namespace slipway {

// & < > " ' as &amp; &lt; &gt; &quot; &#39;; everything else as it is.
std::string EscapeMarkup(std::string_view text);

}  // namespace slipway
