// The qrcode package ships no types; only the one call we use is declared.
declare module 'qrcode' {
  export function toString(text: string, options: { type: 'svg'; errorCorrectionLevel?: 'L' | 'M' | 'Q' | 'H'; margin?: number }): Promise<string>;
  const QRCode: { toString: typeof toString };
  export default QRCode;
}
