export { applyTranscriptEvents } from "./projection/apply.js";
