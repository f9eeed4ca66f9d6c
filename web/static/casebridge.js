// Progressive enhancement only: every page works without this file.
import { initAll } from "./vendor/govuk/govuk-frontend.min.js";

initAll();
