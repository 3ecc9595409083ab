/* The registration form: an 18-digit ID number, as it is typed, fills 出生日期 (digits
   7–14) and 性别 (digit 17: odd 男, even 女). The server checks the same rule on save. */
(function ($) {
  "use strict";
  $(function () {
    var id = $("#id_card_no");
    if (!id.length) { return; }
    id.on("input change", function () {
      var no = $.trim(id.val()).toUpperCase();
      if (!/^\d{17}[\dX]$/.test(no)) { return; }
      var y = no.substr(6, 4), m = no.substr(10, 2), d = no.substr(12, 2);
      var day = new Date(Number(y), Number(m) - 1, Number(d));
      if (day.getFullYear() === Number(y) && day.getMonth() === Number(m) - 1 &&
          day.getDate() === Number(d)) {
        $("#birth_date").val(y + "-" + m + "-" + d).trigger("change");
      }
      $("#gender").val(Number(no.charAt(16)) % 2 ? "male" : "female").trigger("change");
    });
  });
})(jQuery);
