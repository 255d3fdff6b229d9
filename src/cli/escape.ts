/**
 * The terminal escape of `qemu -nographic`: Ctrl-A followed by a command key. Ctrl-A x quits, Ctrl-A s saves
 * the machine (to the --save file) and quits, Ctrl-A h lists the keys, Ctrl-A Ctrl-A sends one Ctrl-A to
 * the guest; other keys after Ctrl-A are dropped.
 */
export const ESCAPE_CHAR = 0x01; // Ctrl-A

export type EscapeCommand = 'quit' | 'save' | 'help';

export const ESCAPE_HELP =
  'C-a h    print this help\nC-a x    exit visor86\n' +
  'C-a s    save the machine to the --save file and exit\nC-a C-a  send C-a to the guest\n';

export class EscapeFilter {
  private afterEscape = false;

  constructor(private readonly onCommand: (command: EscapeCommand) => void) {}

  /** Returns the bytes meant for the guest; runs the commands found among them. */
  filter(input: Uint8Array): Uint8Array {
    const out = new Uint8Array(input.length);
    let n = 0;
    for (let i = 0; i < input.length; i++) {
      const byte = input[i];
      if (!this.afterEscape) {
        if (byte === ESCAPE_CHAR) this.afterEscape = true;
        else out[n++] = byte;
        continue;
      }
      this.afterEscape = false;
      if (byte === ESCAPE_CHAR) {
        out[n++] = ESCAPE_CHAR;
      } else if (byte === 0x78 /* x */ || byte === 0x58 /* X */) {
        this.onCommand('quit');
        // Nothing typed after the quit key reaches the guest.
        return out.subarray(0, n);
      } else if (byte === 0x73 /* s */ || byte === 0x53 /* S */) {
        // The runner decides whether the run ends (it does when there is a --save file).
        this.onCommand('save');
      } else if (byte === 0x68 /* h */ || byte === 0x48 /* H */ || byte === 0x3f /* ? */) {
        this.onCommand('help');
      }
    }
    return out.subarray(0, n);
  }
}
