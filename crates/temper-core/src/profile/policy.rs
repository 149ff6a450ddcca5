//! The password policy: what a device accepts, and generation of passwords within it.

use rand::distributions::{Distribution, Uniform};
use rand::rngs::OsRng;
use schemars::JsonSchema;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::error::{Issue, ProfileErrorKind};
use super::raw::RawPasswordPolicy;
use crate::secret::Secret;

/// The shortest password the guideline accepts when the device can take it.
pub const RECOMMENDED_MIN_LENGTH: usize = 20;

/// Characters that would break a command template quoted as `'{new}'`, or a console line.
const FORBIDDEN: [char; 3] = ['\'', '"', '\\'];

/// A policy whose generator needs more draws than this on average is refused as impossible.
const MIN_DRAW_SUCCESS: f64 = 0.01;

/// A character class a password may be required to contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CharClass {
    /// `A`–`Z`.
    Upper,
    /// `a`–`z`.
    Lower,
    /// `0`–`9`.
    Digit,
    /// ASCII punctuation.
    Symbol,
}

impl CharClass {
    /// Whether `c` belongs to the class.
    pub fn contains(self, c: char) -> bool {
        match self {
            CharClass::Upper => c.is_ascii_uppercase(),
            CharClass::Lower => c.is_ascii_lowercase(),
            CharClass::Digit => c.is_ascii_digit(),
            CharClass::Symbol => c.is_ascii_punctuation(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            CharClass::Upper => "upper",
            CharClass::Lower => "lower",
            CharClass::Digit => "digit",
            CharClass::Symbol => "symbol",
        }
    }
}

/// What a device accepts as a password. Built only from a validated profile, so generation always terminates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_length: usize,
    max_length: usize,
    alphabet: Vec<char>,
    require_classes: Vec<CharClass>,
    max_age_days: Option<u32>,
}

impl PasswordPolicy {
    pub(crate) fn from_raw(raw: &RawPasswordPolicy) -> Self {
        PasswordPolicy {
            min_length: *raw.min_length.get_ref(),
            max_length: *raw.max_length.get_ref(),
            alphabet: raw.alphabet.get_ref().chars().collect(),
            require_classes: raw.require_classes.get_ref().clone(),
            max_age_days: raw.max_age_days.as_ref().map(|d| *d.get_ref()),
        }
    }

    /// A new password from the OS CSPRNG: [`Self::generated_length`] characters drawn uniformly from the
    /// alphabet, redrawn until every required class is present.
    pub fn generate(&self) -> Secret {
        let pick = Uniform::from(0..self.alphabet.len());
        let length = self.generated_length();
        loop {
            // The alphabet is ASCII (checked at load): `length` bytes, so the buffer never reallocates.
            let mut candidate = Zeroizing::new(String::with_capacity(length));
            for _ in 0..length {
                candidate.push(self.alphabet[pick.sample(&mut OsRng)]);
            }
            if self.missing_class(&candidate).is_none() {
                return Secret::new(std::mem::take(&mut *candidate));
            }
        }
    }

    /// Checks a password (e.g. one an operator typed) against the policy. The message never quotes it.
    pub fn check(&self, candidate: &Secret) -> Result<(), String> {
        let text = candidate.expose();
        let length = text.chars().count();
        if length < self.min_length {
            return Err(format!(
                "{length} characters; the policy needs at least {}",
                self.min_length
            ));
        }
        if length > self.max_length {
            return Err(format!(
                "{length} characters; the device accepts at most {}",
                self.max_length
            ));
        }
        if let Some(position) = text.chars().position(|c| !self.alphabet.contains(&c)) {
            return Err(format!(
                "character {} is not in the profile's alphabet",
                position + 1
            ));
        }
        match self.missing_class(text) {
            Some(class) => Err(format!("needs at least one {} character", class.name())),
            None => Ok(()),
        }
    }

    /// The length [`Self::generate`] produces: `min_length`, which is at least 20 unless the device's
    /// `max_length` is below 20, in which case it is `max_length`.
    pub fn generated_length(&self) -> usize {
        if self.max_length < RECOMMENDED_MIN_LENGTH {
            self.max_length
        } else {
            self.min_length.max(RECOMMENDED_MIN_LENGTH)
        }
    }

    /// Days after which operators may require rotation, if the profile sets it.
    pub fn max_age_days(&self) -> Option<u32> {
        self.max_age_days
    }

    /// This policy made stricter by a station's settings, never looser: a longer minimum (generated passwords
    /// get at least that many characters) and a shorter maximum age. A setting that would loosen the profile's
    /// policy, or that the device cannot take (longer than its maximum), is an error naming both values.
    pub fn tightened(
        &self,
        min_length: Option<usize>,
        max_age_days: Option<u32>,
    ) -> Result<PasswordPolicy, String> {
        let mut policy = self.clone();
        if let Some(wanted) = min_length {
            if wanted < self.min_length {
                return Err(format!("a minimum of {wanted} characters is looser than the profile's {}: settings can only tighten a profile's policy", self.min_length));
            }
            if wanted > self.max_length {
                return Err(format!(
                    "a minimum of {wanted} characters is more than this model accepts ({} at most)",
                    self.max_length
                ));
            }
            policy.min_length = wanted;
        }
        if let Some(wanted) = max_age_days {
            if wanted == 0 {
                return Err(
                    "a password expiry of 0 days is not possible: give at least 1 day".into(),
                );
            }
            match self.max_age_days {
                Some(profile) if wanted > profile => {
                    return Err(format!("an expiry after {wanted} days is looser than the profile's {profile} days: settings can only tighten a profile's policy"));
                }
                _ => policy.max_age_days = Some(wanted),
            }
        }
        Ok(policy)
    }

    /// Shortest accepted password.
    pub fn min_length(&self) -> usize {
        self.min_length
    }

    /// Longest accepted password.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The characters the device accepts.
    pub fn alphabet(&self) -> &[char] {
        &self.alphabet
    }

    /// Classes every password contains.
    pub fn require_classes(&self) -> &[CharClass] {
        &self.require_classes
    }

    fn missing_class(&self, text: &str) -> Option<CharClass> {
        self.require_classes
            .iter()
            .copied()
            .find(|class| !text.chars().any(|c| class.contains(c)))
    }
}

/// Refuses policies the device cannot meet, weaker than it allows, or that would break command templates.
pub(crate) fn check_password_policy(raw: &RawPasswordPolicy) -> Result<(), Issue> {
    check_lengths(raw)?;
    check_alphabet(raw)?;
    check_required_classes(raw)?;
    if let Some(days) = raw.max_age_days.as_ref().filter(|d| *d.get_ref() == 0) {
        let help = "set a positive number of days, or remove max_age_days";
        return Err(Issue::at(
            ProfileErrorKind::InvalidValue,
            days,
            "password_policy.max_age_days",
            "must be > 0",
            help,
        ));
    }
    Ok(())
}

fn check_lengths(raw: &RawPasswordPolicy) -> Result<(), Issue> {
    let (min, max) = (*raw.min_length.get_ref(), *raw.max_length.get_ref());
    let impossible = ProfileErrorKind::ImpossiblePolicy;
    if min == 0 {
        return Err(Issue::at(
            impossible,
            &raw.min_length,
            "password_policy.min_length",
            "must be > 0",
            "set min_length = 20",
        ));
    }
    if min > max {
        let message = format!("min_length {min} is greater than max_length {max}");
        let help =
            "set min_length <= max_length (max_length is the longest password the device accepts)";
        return Err(Issue::at(
            impossible,
            &raw.min_length,
            "password_policy.min_length",
            message,
            help,
        ));
    }
    if max >= RECOMMENDED_MIN_LENGTH && min < RECOMMENDED_MIN_LENGTH {
        let message = format!(
            "min_length {min} is too short: the device accepts {RECOMMENDED_MIN_LENGTH}+ characters; \
             the guideline asks for at least {RECOMMENDED_MIN_LENGTH}"
        );
        let help = format!("set min_length = {RECOMMENDED_MIN_LENGTH} or more");
        return Err(Issue::at(
            impossible,
            &raw.min_length,
            "password_policy.min_length",
            message,
            help,
        ));
    }
    Ok(())
}

fn check_alphabet(raw: &RawPasswordPolicy) -> Result<(), Issue> {
    let field = "password_policy.alphabet";
    let alphabet = raw.alphabet.get_ref();
    if alphabet.is_empty() {
        let help = "list every character the device accepts in all its credential stores";
        return Err(Issue::at(
            ProfileErrorKind::ImpossiblePolicy,
            &raw.alphabet,
            field,
            "the alphabet is empty",
            help,
        ));
    }
    for (i, c) in alphabet.chars().enumerate() {
        if !c.is_ascii_graphic() || FORBIDDEN.contains(&c) {
            let message = format!(
                "character {:?} cannot be used: it would break a command quoted as '{{new}}'",
                c
            );
            let help = "use printable ASCII only, without space, quotes (' \") or backslash";
            return Err(Issue::at(
                ProfileErrorKind::InvalidValue,
                &raw.alphabet,
                field,
                message,
                help,
            ));
        }
        if alphabet.chars().take(i).any(|earlier| earlier == c) {
            let message =
                format!("character {c:?} is listed twice, which would skew the generator");
            let help = "list each character once";
            return Err(Issue::at(
                ProfileErrorKind::InvalidValue,
                &raw.alphabet,
                field,
                message,
                help,
            ));
        }
    }
    Ok(())
}

fn check_required_classes(raw: &RawPasswordPolicy) -> Result<(), Issue> {
    let field = "password_policy.require_classes";
    let classes = raw.require_classes.get_ref();
    let alphabet: Vec<char> = raw.alphabet.get_ref().chars().collect();
    for (i, class) in classes.iter().enumerate() {
        if classes[..i].contains(class) {
            let message = format!("\"{}\" is listed twice", class.name());
            return Err(Issue::at(
                ProfileErrorKind::InvalidValue,
                &raw.require_classes,
                field,
                message,
                "list each class once",
            ));
        }
        if !alphabet.iter().any(|c| class.contains(*c)) {
            let message = format!(
                "\"{}\" is required but the alphabet has no {} character",
                class.name(),
                class.name()
            );
            let help = "add such characters to the alphabet, or drop the class";
            return Err(Issue::at(
                ProfileErrorKind::ImpossiblePolicy,
                &raw.require_classes,
                field,
                message,
                help,
            ));
        }
    }
    let policy = PasswordPolicy::from_raw(raw);
    if classes.len() > policy.min_length {
        let message = format!(
            "{} classes are required but min_length is {}",
            classes.len(),
            policy.min_length
        );
        let help = "require fewer classes, or raise min_length";
        return Err(Issue::at(
            ProfileErrorKind::ImpossiblePolicy,
            &raw.require_classes,
            field,
            message,
            help,
        ));
    }
    if draw_success(&alphabet, classes, policy.generated_length()) < MIN_DRAW_SUCCESS {
        let message = "a random password of this length almost never contains every required class";
        let help = "add characters of the rare classes to the alphabet, or require fewer classes";
        return Err(Issue::at(
            ProfileErrorKind::ImpossiblePolicy,
            &raw.require_classes,
            field,
            message,
            help,
        ));
    }
    Ok(())
}

/// The chance that `length` uniform draws from `alphabet` contain every class (inclusion–exclusion over the
/// disjoint classes).
fn draw_success(alphabet: &[char], classes: &[CharClass], length: usize) -> f64 {
    let n = alphabet.len() as f64;
    let sizes: Vec<f64> = classes
        .iter()
        .map(|class| alphabet.iter().filter(|c| class.contains(**c)).count() as f64)
        .collect();
    let exponent = i32::try_from(length).unwrap_or(i32::MAX);
    (0u32..1 << sizes.len())
        .map(|subset| {
            let missing: f64 = sizes
                .iter()
                .enumerate()
                .filter(|(i, _)| subset & (1 << i) != 0)
                .map(|(_, s)| s)
                .sum();
            let sign = if subset.count_ones() % 2 == 0 {
                1.0
            } else {
                -1.0
            };
            sign * ((n - missing) / n).powi(exponent)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draw_success_matches_simple_cases() {
        let digits: Vec<char> = "0123456789".chars().collect();
        assert!(
            (draw_success(&digits, &[CharClass::Digit], 5) - 1.0).abs() < 1e-12,
            "every draw is a digit"
        );
        let two: Vec<char> = "a1".chars().collect();
        let p = draw_success(&two, &[CharClass::Lower, CharClass::Digit], 2);
        assert!(
            (p - 0.5).abs() < 1e-12,
            "of aa, a1, 1a, 11 two hold both classes, got {p}"
        );
    }

    fn policy(min: usize, max: usize, age: Option<u32>) -> PasswordPolicy {
        PasswordPolicy {
            min_length: min,
            max_length: max,
            alphabet: "abcdefghijklmnopqrstuvwxyz0123456789".chars().collect(),
            require_classes: vec![CharClass::Lower],
            max_age_days: age,
        }
    }

    /// Guards the settings page: a station may make a profile's policy stricter, never looser.
    #[test]
    fn tightening_only_tightens() {
        let base = policy(16, 64, Some(365));
        let tight = base
            .tightened(Some(32), Some(90))
            .expect("stricter settings apply");
        assert_eq!((tight.min_length(), tight.max_age_days()), (32, Some(90)));
        assert_eq!(
            tight.generated_length(),
            32,
            "generated passwords follow the raised minimum"
        );
        let err = base.tightened(Some(12), None).unwrap_err();
        assert!(err.contains("looser than the profile's 16"), "{err}");
        let err = base.tightened(None, Some(400)).unwrap_err();
        assert!(err.contains("looser than the profile's 365 days"), "{err}");
        let err = base.tightened(Some(65), None).unwrap_err();
        assert!(err.contains("64 at most"), "{err}");
        let never = policy(16, 64, None);
        assert_eq!(
            never.tightened(None, Some(30)).unwrap().max_age_days(),
            Some(30),
            "an expiry can be added"
        );
        assert_eq!(
            base.tightened(None, None).unwrap(),
            base,
            "no settings, no change"
        );
    }
}
