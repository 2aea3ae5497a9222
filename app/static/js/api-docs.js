// Draws the OpenAPI document with Swagger UI (served by the app: no CDN, no validator call).
(function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.getAttribute("data-spec-url"),
    domNode: node,
    validatorUrl: null,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
