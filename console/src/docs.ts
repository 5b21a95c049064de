// The interactive API reference at /docs: Swagger UI over the served /openapi.json. Calls made
// from it carry the console's access token when the user is signed in (same origin, same
// localStorage), so a signed-in user can try every route without pasting a token.
import SwaggerUIBundle from "swagger-ui-dist/swagger-ui-es-bundle.js";
import "swagger-ui-dist/swagger-ui.css";
import { restoreSession } from "./api/client";
import { currentSession } from "./api/session";

void restoreSession().finally(() => {
  SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: true,
    // Tags start closed: Swagger UI 5.35 stopped rendering after the first few tags once the
    // document passed 132 operations with every tag open (tests/browser: the API reference).
    docExpansion: "none",
    requestInterceptor: (req: { headers: Record<string, string> }) => {
      const session = currentSession();
      if (session && !req.headers.Authorization && !req.headers.authorization) {
        req.headers.Authorization = `Bearer ${session.accessToken}`;
      }
      return req;
    },
  });
});
