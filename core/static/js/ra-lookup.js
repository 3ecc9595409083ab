/* Select2 boxes that ask the server for matches as the user types
   (core/views/lookup.py): the page never carries the whole related table. */
(function ($) {
  "use strict";
  $(function () {
    $("select.ra-lookup").each(function () {
      var box = $(this);
      box.select2({
        theme: "bootstrap",
        width: "100%",
        allowClear: true,
        placeholder: box.data("placeholder") || "",
        language: {
          errorLoading: function () { return "查找失败，请稍后再试"; },
          noResults: function () { return "没有找到"; },
          searching: function () { return "查找中…"; },
          loadingMore: function () { return "加载更多…"; }
        },
        ajax: {
          url: box.data("url"),
          dataType: "json",
          delay: 250,
          data: function (params) { return {term: params.term || ""}; },
          processResults: function (data) {
            return {results: data.results, pagination: {more: false}};
          }
        }
      });
    });
  });
})(jQuery);
