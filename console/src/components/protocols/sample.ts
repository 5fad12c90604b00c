import { ApiError } from "../../api";

/** The sample event a test run sends, or an error saying why the text is not JSON. */
export function parseSample(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(0, "invalid_json", `The sample event is not JSON: ${(error as Error).message}`);
  }
}
