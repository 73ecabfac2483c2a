// The portal's formatting (portal/js/format.js), run by Node's test runner: `node --test tests/portal/`
// (part of `make lint`). Money is exact text, dates are Dutch (dd-mm-jjjj) in Europe/Amsterdam.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { date, dateTime, money, parseDate, period, yesNo } from "../../portal/js/format.js";

describe("money: a decimal string as Dutch money, exact", () => {
  it("groups thousands with dots and writes the decimals after a comma", () => {
    assert.equal(money("12345.6"), "12.345,60");
    assert.equal(money("1234567.89"), "1.234.567,89");
    assert.equal(money("999.99"), "999,99");
    assert.equal(money("1000"), "1.000,00");
  });

  it("keeps every decimal it is given (no rounding to cents, no floating point)", () => {
    assert.equal(money("0.005"), "0,005");
    assert.equal(money("12345678901234567890.12"), "12.345.678.901.234.567.890,12");
    assert.equal(money("0.1"), "0,10");
  });

  it("keeps the minus sign and drops leading zeros", () => {
    assert.equal(money("-1500.5"), "-1.500,50");
    assert.equal(money("-0.01"), "-0,01");
    assert.equal(money("007.50"), "7,50");
    assert.equal(money("-007.50"), "-7,50");
    assert.equal(money("0"), "0,00");
  });

  it("reads nothing as zero and trims what it is given", () => {
    assert.equal(money(null), "0,00");
    assert.equal(money(undefined), "0,00");
    assert.equal(money(" 42.1 "), "42,10");
    assert.equal(money(1234.5), "1.234,50");
  });
});

describe("date: an ISO date as dd-mm-jjjj", () => {
  it("turns jjjj-mm-dd around", () => {
    assert.equal(date("2022-08-05"), "05-08-2022");
    assert.equal(date("2024-02-29T00:00:00Z"), "29-02-2024");
  });

  it("shows a dash for no date", () => {
    assert.equal(date(""), "—");
    assert.equal(date(null), "—");
  });
});

describe("dateTime: an instant in Europe/Amsterdam, dd-mm-jjjj uu:mm", () => {
  it("adds two hours in summer time and one in winter time", () => {
    assert.equal(dateTime("2022-08-05T11:58:00Z"), "05-08-2022 13:58");
    assert.equal(dateTime("2022-01-05T11:58:00Z"), "05-01-2022 12:58");
  });

  it("moves to the next day in Amsterdam before it does in UTC", () => {
    assert.equal(dateTime("2023-12-31T23:30:00Z"), "01-01-2024 00:30");
  });

  it("follows the switch to summer time (last Sunday of March, 02:00 → 03:00)", () => {
    assert.equal(dateTime("2024-03-31T00:59:00Z"), "31-03-2024 01:59");
    assert.equal(dateTime("2024-03-31T01:00:00Z"), "31-03-2024 03:00");
  });

  it("writes midnight as 00, not 24", () => {
    assert.equal(dateTime("2024-06-30T22:00:00Z"), "01-07-2024 00:00");
  });

  it("shows a dash for no instant", () => {
    assert.equal(dateTime(null), "—");
    assert.equal(dateTime(""), "—");
  });
});

describe("parseDate: a typed date → ISO, or null", () => {
  it("takes dd-mm-jjjj, d-m-jjjj and / or . between", () => {
    assert.equal(parseDate("05-08-2022"), "2022-08-05");
    assert.equal(parseDate("5-8-2022"), "2022-08-05");
    assert.equal(parseDate("05/08/2022"), "2022-08-05");
    assert.equal(parseDate("5.8.2022"), "2022-08-05");
    assert.equal(parseDate("  31-12-2023 "), "2023-12-31");
  });

  it("takes a pasted jjjj-mm-dd", () => {
    assert.equal(parseDate("2022-08-05"), "2022-08-05");
  });

  it("reads day first: 01-02-2024 is the first of February", () => {
    assert.equal(parseDate("01-02-2024"), "2024-02-01");
  });

  it("knows leap years", () => {
    assert.equal(parseDate("29-02-2024"), "2024-02-29");
    assert.equal(parseDate("29-02-2000"), "2000-02-29");
    assert.equal(parseDate("29-02-2023"), null);
    assert.equal(parseDate("29-02-1900"), null);
  });

  it("refuses days and months that do not exist", () => {
    assert.equal(parseDate("31-04-2024"), null);
    assert.equal(parseDate("00-01-2024"), null);
    assert.equal(parseDate("01-13-2024"), null);
    assert.equal(parseDate("2024-02-30"), null);
  });

  it("refuses what is no date", () => {
    for (const text of ["", "   ", "morgen", "05-08-22", "2022/08/05", "05-08-2022x", "1-1-0999", "12345", null, undefined]) {
      assert.equal(parseDate(text), null, `${JSON.stringify(text)} is no date`);
    }
  });

  it("gives back what date() shows (round trip)", () => {
    for (const iso of ["2022-08-05", "2024-02-29", "1999-12-31", "2030-01-01"]) {
      assert.equal(parseDate(date(iso)), iso);
    }
  });
});

describe("period and yesNo", () => {
  it("spaces a payroll period", () => {
    assert.equal(period("2020-3"), "2020 - 3");
    assert.equal(period(""), "");
    assert.equal(period(null), "");
  });

  it("says Ja or Nee", () => {
    assert.equal(yesNo(true), "Ja");
    assert.equal(yesNo(false), "Nee");
    assert.equal(yesNo(undefined), "Nee");
  });
});
