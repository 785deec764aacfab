// mlposture dashboard: apply the overview's filters as soon as a select or checkbox changes (the form works
// without this script too; the filter state always lives in the URL).
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) { return; }
  var inputs = form.querySelectorAll("select, input[type=checkbox]");
  for (var i = 0; i < inputs.length; i++) {
    inputs[i].addEventListener("change", function () { form.submit(); });
  }
})();
