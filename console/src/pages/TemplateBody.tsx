// The JSON editor of a provisioning template body (create, new version): JSON mistakes are
// shown under it as they are typed; what the API objects to (an unknown resource type, a
// missing property) comes back from the call and is shown by the form that sent it.

import { parseObject } from "../json";

/** A fleet provisioning template to start from: a thing named from a parameter, and its certificate. */
export const SAMPLE_BODY = JSON.stringify(
  {
    Parameters: { SerialNumber: { Type: "String" } },
    Resources: {
      thing: {
        Type: "AWS::IoT::Thing",
        Properties: { ThingName: { "Fn::Join": ["", ["device_", { Ref: "SerialNumber" }]] } },
      },
      certificate: {
        Type: "AWS::IoT::Certificate",
        Properties: { CertificateId: { Ref: "AWS::IoT::Certificate::Id" }, Status: "ACTIVE" },
      },
    },
  },
  null,
  2,
);

/** Why `text` cannot be sent as a template body, or "" when it can. */
export const bodyError = (text: string) => parseObject(text, "A template body").error ?? "";

export function TemplateBody({ id, value, onInput }: { id: string; value: string; onInput: (text: string) => void }) {
  const error = bodyError(value);
  return (
    <>
      <label for={id}>Template body (JSON)</label>
      <textarea
        id={id}
        class="json-editor"
        rows={14}
        value={value}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-help${error ? ` ${id}-error` : ""}`}
        onInput={(e) => onInput(e.currentTarget.value)}
      />
      <p id={`${id}-help`} class="hint">
        Parameters and Resources (AWS::IoT::Thing, AWS::IoT::Certificate, AWS::IoT::Policy); the server checks the resources when it is saved.
      </p>
      {error ? (
        <p id={`${id}-error`} class="error">
          {error}
        </p>
      ) : null}
    </>
  );
}
