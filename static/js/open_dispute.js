// The dispute questionnaire (templates/disputes/open.html).
// Progressive help; the page works without it (the server decides the same).
// - "never arrived" means "not received" and a refund: there is nothing to keep or to send
//   back, so the choice "what would you like?" is hidden and disabled, and a note says why.
// - a file already sent and ticked "Remove" is shown faded: it will not be sent.
// - the description must be in English (PORTAL_REQUIRE_LATIN_DESCRIPTION): as the buyer
//   types, letters of another script are named under the field, in the server's own words
//   (see englishOnly below). The server stays the authority: it checks again when sent.
(function () {
  "use strict";

  // --- What disputes/validators.py calls "not in the Latin alphabet" ----------------------
  // The server reads each character's Unicode name; a browser knows its Script property,
  // which tells the same for the letters of every script (Cyrillic, Greek, CJK, Arabic...)
  // and for the letter-like signs of the scripts the server lists (circled katakana,
  // parenthesized hangul, Braille, combining vowel signs). Digits, punctuation, symbols,
  // emoji and spaces are fine. The few letter-like symbols of no script that the server
  // also refuses (the micro sign, mathematical bold letters) are left for it to name.
  var LETTER_LIKE = /[\p{L}\p{M}\p{So}\p{Sk}\p{No}\p{Nl}]/u;
  var LETTER = /\p{L}/u;
  var NO_SCRIPT = /[\p{Script=Latin}\p{Script=Common}\p{Script=Inherited}]/u;
  // The scripts whose name the server looks for in a character's name (validators.SCRIPTS;
  // for these, letter-like signs count too), then every other script (letters only), by
  // their Unicode names. The server names a script by a word of the character's name:
  // "Cyrillic", "CJK", "Canadian" (Canadian syllabics), "OL" (Ol Chiki).
  var LISTED = (
    "Arabic Armenian Balinese Bengali Bopomofo Braille Buginese Buhid Canadian_Aboriginal " +
    "Cham Cherokee Han Coptic Cyrillic Devanagari Ethiopic Georgian Glagolitic Greek " +
    "Gujarati Gurmukhi Hangul Hanunoo Hebrew Hiragana Javanese Kannada Katakana Kayah_Li " +
    "Khmer Lao Lepcha Limbu Lisu Malayalam Mandaic Meetei_Mayek Mongolian Myanmar Nko Ogham " +
    "Ol_Chiki Oriya Runic Samaritan Saurashtra Sinhala Sundanese Syriac Tagalog Tagbanwa " +
    "Tamil Telugu Thaana Thai Tibetan Tifinagh Vai Yi"
  ).split(" ");
  var OTHERS = (
    "Adlam Ahom Anatolian_Hieroglyphs Avestan Bamum Bassa_Vah Batak Bhaiksuki Brahmi Carian " +
    "Caucasian_Albanian Chakma Chorasmian Cuneiform Cypriot Cypro_Minoan Deseret " +
    "Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Garay Gothic Grantha " +
    "Gunjala_Gondi Gurung_Khema Hanifi_Rohingya Hatran Imperial_Aramaic " +
    "Inscriptional_Pahlavi Inscriptional_Parthian Kaithi Kawi Kharoshthi Khitan_Small_Script " +
    "Khojki Khudawadi Kirat_Rai Linear_A Linear_B Lycian Lydian Mahajani Makasar Manichaean " +
    "Marchen Masaram_Gondi Medefaidrin Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs " +
    "Miao Modi Mro Multani Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa Nushu " +
    "Nyiakeng_Puachue_Hmong Ol_Onal Old_Hungarian Old_Italic Old_North_Arabian Old_Permic " +
    "Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Osage Osmanya " +
    "Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Sharada " +
    "Shavian Siddham SignWriting Sogdian Sora_Sompeng Soyombo Sunuwar Syloti_Nagri Tai_Le " +
    "Tai_Tham Tai_Viet Takri Tangsa Tangut Tirhuta Todhri Toto Tulu_Tigalari Ugaritic " +
    "Vithkuqi Wancho Warang_Citi Yezidi Zanabazar_Square"
  ).split(" ");

  function scriptPattern(name) {
    try { return new RegExp("\\p{Script=" + name + "}", "u"); } catch (e) { return null; }
  }

  function label(name, char) {
    if (name === "Han") {
      var code = char.codePointAt(0);
      if (code >= 0x2f00 && code <= 0x2fdf) return "Kangxi"; // KANGXI RADICAL ...
      if (code >= 0x3005 && code <= 0x303b) return "Ideographic"; // IDEOGRAPHIC ... MARK
      return "CJK";
    }
    var word = name.split("_")[0];
    return word.length <= 3 ? word.toUpperCase() : word.charAt(0) + word.slice(1).toLowerCase();
  }

  var scripts = null; // [pattern, name, listed], made on first use
  var known = {}; // char -> its script's label, or "" (fine)

  function scriptOf(char) {
    if (Object.prototype.hasOwnProperty.call(known, char)) return known[char];
    var found = "";
    if (LETTER_LIKE.test(char) && !NO_SCRIPT.test(char)) {
      if (!scripts) {
        scripts = [];
        LISTED.concat(OTHERS).forEach(function (name, index) {
          var pattern = scriptPattern(name);
          if (pattern) scripts.push([pattern, name, index < LISTED.length]);
        });
      }
      var letter = LETTER.test(char);
      for (var i = 0; i < scripts.length; i++) {
        if (scripts[i][0].test(char)) {
          if (scripts[i][2] || letter) found = label(scripts[i][1], char);
          break;
        }
      }
      if (!found && letter && i === scripts.length) found = "?"; // a script newer than this list
    }
    known[char] = found;
    return found;
  }

  // The distinct letters of another script, in order of use, and their scripts' names.
  function foreignLetters(text) {
    var seen = [];
    var names = {};
    for (var char of text) {
      var script = scriptOf(char);
      if (script && seen.indexOf(char) === -1) {
        seen.push(char);
        names[script] = true;
      }
    }
    return { letters: seen, scripts: Object.keys(names).sort() };
  }

  // The server's sentence (data-message, from the catalogue) with the letters filled in as
  // the server fills them: the first 12, each in quotes, "…" when there are more.
  function scriptMessage(template, text) {
    var found = foreignLetters(text);
    if (!found.letters.length) return "";
    var shown = found.letters.slice(0, 12).map(function (c) { return "\u201c" + c + "\u201d"; });
    var parts = {
      chars: shown.join(" "),
      more: found.letters.length > 12 ? " \u2026" : "",
      scripts: found.scripts.join(", "),
    };
    return template.replace(/\{(chars|more|scripts)\}/g, function (_all, name) {
      return parts[name];
    });
  }

  var form = document.getElementById("open-dispute");
  if (!form) return;

  function outcomeChoices() {
    return form.querySelectorAll("#field-requested_outcome label[data-outcome]");
  }

  function sync(event) {
    var received = form.querySelector("input[name=received]:checked");
    var notReceived = !!received && received.value === "no";
    var changedReceived = event && event.target && event.target.name === "received";
    var reason = form.querySelector("select[name=reason]");
    if (changedReceived && notReceived) {
      reason.value = "not_received";
      form.querySelector("input[name=amount_choice][value=full]").checked = true;
    }
    var anyChecked = false;
    outcomeChoices().forEach(function (label) {
      var input = label.querySelector("input");
      label.hidden = notReceived;
      input.disabled = notReceived;
      anyChecked = anyChecked || input.checked;
    });
    if (!notReceived && !anyChecked) {
      var refund = form.querySelector("input[name=requested_outcome][value=refund_only]");
      if (refund) refund.checked = true;
    }
    document.getElementById("refund-note").hidden = !notReceived;
    document.getElementById("outcome-hint").hidden = true; // said as the buyer answers
    var full = form.querySelector("input[name=amount_choice][value=full]").checked;
    document.getElementById("field-requested_amount").hidden = full;
    var wantsReturn = form.querySelector("input[name=requested_outcome][value=return_and_refund]");
    document.getElementById("return-note").hidden = notReceived || !(wantsReturn && wantsReturn.checked);
    form.querySelectorAll(".held-file").forEach(function (figure) {
      var remove = figure.querySelector("input[name=remove_held]");
      figure.classList.toggle("hidden-item", !!(remove && remove.checked));
    });
  }

  form.addEventListener("change", sync);
  sync();

  // The English-only description, checked as the buyer types (a pause of 300 ms). The
  // message is a polite live region, written only when what it says changes: a screen
  // reader hears it once per new verdict, not at every key.
  function englishOnly() {
    var note = document.getElementById("description-script");
    var field = form.querySelector("textarea[name=description]");
    if (!note || !field || !note.dataset.message) return;
    var described = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (described.indexOf(note.id) === -1) {
      field.setAttribute("aria-describedby", described.concat(note.id).join(" "));
    }
    var timer = null;
    function check() {
      timer = null;
      var message = scriptMessage(note.dataset.message, field.value);
      if (note.textContent !== message) note.textContent = message;
    }
    field.addEventListener("input", function () {
      if (timer) clearTimeout(timer);
      timer = setTimeout(check, 300);
    });
  }
  englishOnly();
})();
