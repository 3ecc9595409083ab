/* Select2's own texts in Chinese ("Remove all items", "No results found"…), and FAB's
   boxes (ab.js: placeholder "Select a State") given a Chinese placeholder. Loaded after
   ab.js: the defaults apply to boxes made later, and the ready handler below runs after
   ab.js's, re-making FAB's boxes with the Chinese placeholder. */
(function ($) {
  "use strict";
  var zh = {
    errorLoading: function () { return "无法载入结果"; },
    inputTooLong: function (a) { return "请删除" + (a.input.length - a.maximum) + "个字符"; },
    inputTooShort: function (a) { return "请再输入至少" + (a.minimum - a.input.length) + "个字符"; },
    loadingMore: function () { return "载入更多结果…"; },
    maximumSelected: function (a) { return "最多只能选择" + a.maximum + "项"; },
    noResults: function () { return "未找到结果"; },
    searching: function () { return "搜索中…"; },
    removeAllItems: function () { return "删除所有项目"; }
  };
  $.fn.select2.defaults.set("language", zh);
  $(function () {
    $(".my_select2").each(function () {
      var box = $(this);
      if (box.hasClass("select2-hidden-accessible")) {
        // FAB's empty choice is "__None": shown as the placeholder, not as its value.
        // WTForms prints an option without a label as its value: "__None" on screen.
        var blank = box.find("option[value='__None']").text("").length;
        box.select2({placeholder: blank ? {id: "__None", text: "请选择"} : "请选择",
                     allowClear: true, theme: "bootstrap", language: zh});
      }
    });
  });
}(jQuery));
